import { randomBytes } from 'node:crypto'
import { AppError } from '../errors.js'
import type { SessionStore } from './session-store.js'

type Shared = Pick<SessionStore, 'join' | 'leave' | 'members' | 'secret' | 'hit' | 'broadcast' | 'onBroadcast' | 'getRecord' | 'putRecord'>

/**
 * The memory store's parts that are not sessions: topic membership (expired sessions leave
 * their topics lazily, when members are listed), fixed-window counters, the in-process
 * broadcast, the secret this process seals 2026 request state with, and records (tasks), whose
 * bytes together stay under `maxRecordBytes`, and a principal's new ones under `maxOwnerBytes`.
 */
export function createMemoryShared (isLive: (sessionId: string) => boolean, maxRecordBytes: number, maxOwnerBytes = Infinity): Shared & { sweep (now: number): void, clear (): void } {
  const topics = new Map<string, Set<string>>()
  const listeners = new Set<(message: string) => void>()
  const secret = randomBytes(32).toString('base64url')
  const counters = new Map<string, { count: number, resetAt: number }>()
  const records = new Map<string, { value: string, version: number, expires: number, owner?: string }>()
  let recordBytes = 0
  const ownerBytes = new Map<string, number>()
  const charge = (owner: string | undefined, bytes: number) => {
    if (owner === undefined) return
    const n = (ownerBytes.get(owner) ?? 0) + bytes
    if (n > 0) ownerBytes.set(owner, n)
    else ownerBytes.delete(owner)
  }
  const drop = (key: string) => {
    const r = records.get(key)
    if (r) {
      recordBytes -= r.value.length
      charge(r.owner, -r.value.length)
    }
    records.delete(key)
  }
  return {
    async getRecord (key) {
      const r = records.get(key)
      if (r && r.expires <= Date.now()) drop(key)
      const live = records.get(key)
      return live ? { value: live.value, version: live.version } : null
    },
    async putRecord (key, value, version, ttlMs, owner) {
      const now = Date.now()
      const r = records.get(key)
      const current = r && r.expires > now ? r.version : 0
      if (current !== version) return false
      const growth = value.length - (r?.value.length ?? 0)
      if (growth > 0 && recordBytes + growth > maxRecordBytes) {
        throw new AppError(503, 'store_full', 'the server holds as many tasks as it has room for; try again later')
      }
      // Only a new record is refused for its owner: a running task can always file its result.
      if (version === 0 && owner !== undefined && (ownerBytes.get(owner) ?? 0) + value.length > maxOwnerBytes) {
        throw new AppError(429, 'too_many_tasks_for_principal', 'this principal holds as many tasks as it may; try again when some have expired')
      }
      if (r) drop(key)
      recordBytes += value.length
      charge(owner, value.length)
      records.set(key, { value, version: version + 1, expires: now + ttlMs, ...(owner !== undefined ? { owner } : {}) })
      return true
    },
    async join (topic, sessionId) {
      let members = topics.get(topic)
      if (!members) topics.set(topic, members = new Set())
      members.add(sessionId)
    },
    async leave (topic, sessionId) {
      const members = topics.get(topic)
      members?.delete(sessionId)
      if (members?.size === 0) topics.delete(topic)
    },
    async members (topic) {
      const members = topics.get(topic)
      if (!members) return []
      for (const id of members) if (!isLive(id)) members.delete(id)
      return [...members]
    },
    async secret () { return secret },
    async hit (key, windowMs) {
      const now = Date.now()
      let counter = counters.get(key)
      if (!counter || counter.resetAt <= now) counters.set(key, counter = { count: 0, resetAt: now + windowMs })
      counter.count++
      return { count: counter.count, ttlMs: counter.resetAt - now }
    },
    async broadcast (message) {
      for (const listener of listeners) listener(message)
    },
    onBroadcast (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    sweep (now) {
      for (const [key, c] of counters) if (c.resetAt <= now) counters.delete(key)
      for (const [key, r] of records) if (r.expires <= now) drop(key)
    },
    clear () {
      counters.clear()
      records.clear()
      recordBytes = 0
      ownerBytes.clear()
      topics.clear()
      listeners.clear()
    }
  }
}
