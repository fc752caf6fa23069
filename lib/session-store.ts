/** One event waiting in a session's log. `id` becomes the SSE `id:` field. */
export interface StoredEvent {
  id: string
  event?: string
  data: string
}

export interface NewEvent {
  event?: string
  data: string
}

export interface ReadResult {
  events: StoredEvent[]
  /** True when events after the requested position were already dropped by retention. */
  gap: boolean
}

export interface SessionInfo {
  id: string
  owner: string
  createdAt: number
}

export interface StoreStats {
  sessions: number
  queuedFrames: number
}

/**
 * Where events wait. Two implementations (memory, Redis) keep the same contract:
 * - ids are monotonic per session and survive a reconnect (`Last-Event-ID`);
 * - `read(…, null)` starts after the session's delivery cursor (see `ack`), so a fresh stream
 *   receives only frames no stream has delivered yet;
 * - `watch` wakes a reader when a publish happens, possibly on another instance.
 */
export interface SessionStore {
  readonly kind: 'memory' | 'redis'
  /** Creates or refreshes a session; throws AppError 403 when `owner` differs, 503 when full. */
  open (sessionId: string, owner: string): Promise<SessionInfo>
  get (sessionId: string): Promise<SessionInfo | null>
  publish (sessionId: string, event: NewEvent): Promise<string>
  read (sessionId: string, afterId: string | null, limit: number): Promise<ReadResult>
  /** The id of the newest event, or "0" when the session has none; a stream that must only
   *  see what comes next starts after it. */
  head (sessionId: string): Promise<string>
  /** Records that events up to `eventId` reached a client. */
  ack (sessionId: string, eventId: string): Promise<void>
  watch (sessionId: string, onWake: () => void): () => void
  delete (sessionId: string): Promise<void>
  stats (): Promise<StoreStats>
  /** Liveness of the backend, for readiness probes. */
  ready (): Promise<boolean>
  close (): Promise<void>
}
