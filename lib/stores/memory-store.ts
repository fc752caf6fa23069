import { getHeapStatistics } from 'node:v8'
import { AppError } from '../errors.js'
import { clock } from '../clock.js'
import { EventLog, NO_EVENTS } from './event-log.js'
import { createMemoryShared } from './memory-shared.js'
import { addWatcher, pickIdle, removeWatcher, wakeAll, type Session } from './memory-lru.js'
import { sessionCap, type NewEvent, type ReadResult, type SessionStore, type StoredEvent, type StoreStats } from './session-store.js'
import type { SessionOptions } from '../../schemas/options.js'

/** The embedded default: sessions and their bounded logs in this process's memory. */
export function createMemoryStore (opts: SessionOptions): SessionStore {
  const sessions = new Map<string, Session>()
  const ttlMs = opts.ttlSeconds * 1000
  // Topics, counters, broadcast and the shared secret: what a store holds besides sessions.
  // Retained bytes, per principal and in all: the bounds that keep one client from taking the heap.
  // `ids` is the owner's sessions, least recently used first, like `sessions` for the server.
  const owners = new Map<string, { sessions: number, bytes: number, ids: Set<string> }>()
  const maxTotalBytes = opts.maxTotalBytes || Math.floor(getHeapStatistics().heap_size_limit / 4)
  // Tasks' records have budgets of their own, as large as the logs': in all and per principal.
  const shared = createMemoryShared((id) => live(id) !== undefined, maxTotalBytes, opts.maxBytesPerPrincipal)
  let totalBytes = 0
  let evictions = 0
  const perOwner = opts.maxSessionsPerPrincipal
  const maxSessions = sessionCap(opts.maxSessions)

  function forget (s: Session): void {
    totalBytes -= s.log.bytes
    const owner = owners.get(s.owner)
    if (!owner) return
    owner.bytes -= s.log.bytes
    owner.ids.delete(s.id)
    if (--owner.sessions === 0) owners.delete(s.owner)
  }

  /**
   * Moves a session to the most recently used end of both orders. At most once a second per
   * session: the order need not be finer, and a busy session's requests skip the two re-inserts.
   */
  function touch (s: Session, now: number): void {
    s.lastActive = now
    if (now - s.orderedAt < 1000) return
    s.orderedAt = now
    sessions.delete(s.id)
    sessions.set(s.id, s)
    const ids = owners.get(s.owner)?.ids
    ids?.delete(s.id)
    ids?.add(s.id)
  }

  function evictOne (order: Iterable<string>): boolean {
    const victim = pickIdle(order, (id) => sessions.get(id), (s) => { s.orderedAt = -Infinity; touch(s, s.watchers !== undefined ? clock() : s.lastActive) })
    if (!victim) return false
    sessions.delete(victim.id)
    forget(victim)
    evictions++
    return true
  }

  // One sweep for all sessions rather than a timer per session. A session with a live reader
  // is in use, so it is refreshed instead of expired.
  const sweep = setInterval(() => {
    shared.sweep(Date.now())
    const now = clock()
    for (const [id, s] of sessions) {
      if (s.watchers !== undefined || s.pins > 0) s.lastActive = now
      else if (now - s.lastActive > ttlMs) {
        sessions.delete(id)
        forget(s)
      }
    }
  }, Math.min(opts.sweepIntervalMs, ttlMs))
  sweep.unref()

  function live (sessionId: string): Session | undefined {
    const s = sessions.get(sessionId)
    if (s && s.watchers === undefined && clock() - s.lastActive > ttlMs) {
      sessions.delete(sessionId)
      forget(s)
      return undefined
    }
    return s
  }

  function mustGet (sessionId: string): Session {
    const s = live(sessionId)
    if (!s) throw new AppError(404, 'session_not_found', `session ${sessionId} does not exist or has expired`)
    return s
  }

  function drop (s: Session, owner: { bytes: number } | undefined): void {
    const dropped = s.log.shift()
    if (owner) owner.bytes -= dropped
    totalBytes -= dropped
  }

  function toEvent (log: EventLog, i: number): StoredEvent {
    const event = log.event(i)
    const id = String(log.first + i)
    return event === undefined ? { id, data: log.data(i) } : { id, event, data: log.data(i) }
  }

  return {
    kind: 'memory',

    async open (sessionId, owner, options) {
      const now = clock()
      const existing = live(sessionId)
      if (existing) {
        if (existing.owner !== owner) {
          throw new AppError(403, 'session_forbidden', `session ${sessionId} belongs to another principal`)
        }
        touch(existing, now)
        return { id: existing.id, owner: existing.owner, createdAt: existing.createdAt }
      }
      const mine = owners.get(owner) ?? { sessions: 0, bytes: 0, ids: new Set<string>() }
      if (perOwner > 0 && mine.sessions >= perOwner && !evictOne(mine.ids)) {
        throw new AppError(429, 'too_many_sessions_for_principal',
          `all ${perOwner} sessions of this principal are in use (streaming or running calls); retry later`)
      }
      if (sessions.size >= maxSessions && !evictOne(sessions.keys())) {
        throw new AppError(503, 'too_many_sessions', `all ${maxSessions} sessions are in use (streaming or running calls); retry later`)
      }
      const createdAt = Date.now()
      mine.sessions++
      mine.ids.add(sessionId)
      owners.set(owner, mine)
      sessions.set(sessionId, {
        id: sessionId, owner, createdAt, log: NO_EVENTS, cursor: 0, lastActive: now, watchers: undefined, replay: options?.replay ?? true, pins: 0, orderedAt: now
      })
      return { id: sessionId, owner, createdAt }
    },

    async get (sessionId) {
      const s = live(sessionId)
      return s ? { id: s.id, owner: s.owner, createdAt: s.createdAt } : null
    },

    async publish (sessionId, event: NewEvent) {
      const s = mustGet(sessionId)
      // A session's log is made at its first event: an idle stream's bytes count.
      if (s.log === NO_EVENTS) s.log = new EventLog()
      const seq = s.log.next
      // Budgets count UTF-8 bytes of data, as the Redis store does.
      const size = s.log.push(event.data, event.event, event.stream ?? '')
      const owner = owners.get(s.owner)!
      owner.bytes += size
      totalBytes += size
      s.lastActive = clock()
      // Keep at least the newest event even if it alone exceeds a cap.
      while (s.log.length > 1 && (s.log.length > opts.maxEvents || s.log.bytes > opts.maxBytes ||
        owner.bytes > opts.maxBytesPerPrincipal || totalBytes > maxTotalBytes)) {
        drop(s, owner)
      }
      wakeAll(s)
      return String(seq)
    },

    async read (sessionId, afterId, limit, stream = ''): Promise<ReadResult> {
      const s = mustGet(sessionId)
      let after = afterId === null ? s.cursor : Number(afterId)
      if (!Number.isSafeInteger(after) || after < 0) after = 0
      const { first, next } = s.log
      let gap = after < first - 1
      // An id from the future (a client that outlived a restart) restarts after the delivery
      // cursor instead of withholding frames until ids catch up; the reader is told.
      let last: string | null = null
      if (after > next - 1) {
        after = Math.min(s.cursor, next - 1)
        gap = true
        last = String(after) // the reader continues from the reset position
      }
      // seq values are contiguous, so the start index is arithmetic, not a search.
      const start = Math.max(0, after + 1 - first)
      const events: StoredEvent[] = []
      let i = start
      for (; i < s.log.length && events.length < limit; i++) {
        if (s.log.stream(i) === stream) events.push(toEvent(s.log, i))
      }
      if (i > start) last = String(first + i - 1)
      return { events, gap, last, more: i < s.log.length }
    },

    async head (sessionId) {
      return String(mustGet(sessionId).log.next - 1)
    },

    async ack (sessionId, eventId) {
      const s = live(sessionId)
      const seq = Number(eventId)
      if (!s || !(seq > s.cursor)) return
      s.cursor = seq
      // Without replay, a delivered event is garbage: dropping it now keeps it out of the old
      // generation instead of holding it until the retention caps push it out.
      if (s.replay) return
      const owner = owners.get(s.owner)
      while (s.log.length > 0 && s.log.first <= seq) drop(s, owner)
    },

    watch (sessionId, onWake) {
      const s = mustGet(sessionId)
      addWatcher(s, onWake)
      return () => { removeWatcher(s, onWake); if (sessions.get(s.id) === s) touch(s, clock()) }
    },

    pin (sessionId) {
      const s = sessions.get(sessionId)
      if (!s) return () => {}
      s.pins++
      let done = false
      return () => {
        if (done) return
        done = true
        s.pins--
        if (sessions.get(s.id) === s) touch(s, clock())
      }
    },

    async wake (sessionId) {
      const s = live(sessionId)
      if (s) wakeAll(s)
    },

    async delete (sessionId) {
      const s = sessions.get(sessionId)
      sessions.delete(sessionId)
      if (!s) return
      forget(s)
      wakeAll(s)
    },

    async setValue (sessionId, key, value) {
      const s = mustGet(sessionId)
      s.values ??= new Map()
      s.values.set(key, value)
    },

    async getValue (sessionId, key) {
      return live(sessionId)?.values?.get(key) ?? null
    },

    async takeValue (sessionId, key) {
      const values = live(sessionId)?.values
      const value = values?.get(key)
      if (value === undefined) return null
      values!.delete(key)
      return value
    },

    ...shared,

    async stats (): Promise<StoreStats> {
      let queuedFrames = 0
      // Frames no stream has delivered yet, not the retained replay history.
      for (const s of sessions.values()) {
        queuedFrames += s.log.next - 1 - Math.max(s.cursor, s.log.first - 1)
      }
      return { sessions: sessions.size, queuedFrames, evictions, maxSessions }
    },

    async ready () { return true },

    async close () {
      clearInterval(sweep)
      sessions.clear()
      owners.clear()
      shared.clear()
    }
  }
}
