import { getHeapStatistics } from 'node:v8'

/** One event waiting in a session's log. `id` becomes the SSE `id:` field. */
export interface StoredEvent {
  id: string
  event?: string
  data: string
}

export interface NewEvent {
  event?: string
  data: string
  /**
   * The stream this event belongs to within its session ("" or absent: the session's main
   * stream). MCP gives every POST its own stream; all of them share one log, so ids stay
   * monotonic per session and one pipeline serves every transport.
   */
  stream?: string
}

export interface ReadResult {
  events: StoredEvent[]
  /** True when events after the requested position were already dropped by retention. */
  gap: boolean
  /** The id of the last log entry looked at (matching or not); the next read starts after it. */
  last: string | null
  /** True when the read stopped at its limit and later entries may wait. */
  more: boolean
}

export interface SessionInfo {
  id: string
  owner: string
  createdAt: number
}

export interface OpenOptions {
  /**
   * false: no client will ask for delivered events again (HTTP+SSE has no resumption; its
   * session ends with its stream), so a store may drop them once acknowledged. Default true.
   */
  replay?: boolean
}

export interface StoredRecord {
  value: string
  version: number
}

export interface StoreStats {
  sessions: number
  queuedFrames: number
  /** Idle sessions this instance removed to make room since it started. */
  evictions?: number
  /** The session budget in force (MAX_SESSIONS, or the one sized to the heap). */
  maxSessions?: number
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
  /**
   * Creates or refreshes a session; throws AppError 403 when `owner` differs. When the server's
   * (or the owner's) session budget is reached, the least recently used idle session makes room:
   * no reader, no call in flight (see `pin`), preferably nothing undelivered. Only when every
   * session is in use does it throw 503 `too_many_sessions` (429 for the owner's own budget).
   */
  open (sessionId: string, owner: string, options?: OpenOptions): Promise<SessionInfo>
  /** Marks a session in use (a call in flight) until the returned function runs: never evicted meanwhile. */
  pin? (sessionId: string): () => void
  get (sessionId: string): Promise<SessionInfo | null>
  publish (sessionId: string, event: NewEvent): Promise<string>
  /** Events after `afterId` that belong to `stream` ("" by default: the main stream). */
  read (sessionId: string, afterId: string | null, limit: number, stream?: string): Promise<ReadResult>
  /** The id of the newest event, or "0" when the session has none; a stream that must only
   *  see what comes next starts after it. */
  head (sessionId: string): Promise<string>
  /** Records that events up to `eventId` reached a client. */
  ack (sessionId: string, eventId: string): Promise<void>
  watch (sessionId: string, onWake: () => void): () => void
  /** Wakes the session's watchers on every instance without adding an event. */
  wake (sessionId: string): Promise<void>
  delete (sessionId: string): Promise<void>

  /** Small named values that live and die with a session (negotiated capabilities, log level). */
  setValue (sessionId: string, key: string, value: string): Promise<void>
  getValue (sessionId: string, key: string): Promise<string | null>
  /** Removes and returns a value in one step: of two instances taking it, only one gets it. */
  takeValue (sessionId: string, key: string): Promise<string | null>

  /** Topic membership of sessions (resource subscriptions, list-change interest). */
  join (topic: string, sessionId: string): Promise<void>
  leave (topic: string, sessionId: string): Promise<void>
  members (topic: string): Promise<string[]>

  /** Sends `message` to every instance's `onBroadcast` listeners, this one included. */
  broadcast (message: string): Promise<void>
  onBroadcast (listener: (message: string) => void): () => void

  /** Counts a hit on `key` in a fixed window shared by every instance (rate limits). */
  hit (key: string, windowMs: number): Promise<{ count: number, ttlMs: number }>

  /**
   * Records outside any session (tasks), read with their version. `putRecord` writes only if
   * the record is still at `version` (0: it must not exist yet), so of two writers one wins and
   * the other re-reads; false then. The record expires `ttlMs` after each write. `owner`: whose
   * bytes the record counts against; a new record (version 0) beyond that principal's budget is
   * refused with AppError 429 (the memory store; Redis is bounded by its `maxmemory`).
   */
  getRecord (key: string): Promise<StoredRecord | null>
  putRecord (key: string, value: string, version: number, ttlMs: number, owner?: string): Promise<boolean>

  /** A random secret every instance on this store shares (seals 2026 request state). */
  secret (): Promise<string>

  stats (): Promise<StoreStats>
  /** Liveness of the backend, for readiness probes. */
  ready (): Promise<boolean>
  close (): Promise<void>
}

/**
 * The session cap when MAX_SESSIONS is 0 (the default): an idle session costs ~2 KiB of heap, so
 * one per 32 KiB of the V8 heap limit keeps them all under a sixteenth of it (4 GiB: ~131,000),
 * and never fewer than 10,000. Sessions with streams are bounded by MAX_CONNECTIONS long before.
 */
export function sessionCap (maxSessions: number): number {
  return maxSessions || Math.max(10_000, Math.floor(getHeapStatistics().heap_size_limit / (32 * 1024)))
}
