import { randomBytes } from 'node:crypto'
import type { SessionStore } from './session-store.js'

type Shared = Pick<SessionStore, 'join' | 'leave' | 'members' | 'secret' | 'hit' | 'broadcast' | 'onBroadcast'>

/**
 * The memory store's parts that are not sessions: topic membership (expired sessions leave
 * their topics lazily, when members are listed), fixed-window counters, the in-process
 * broadcast and the secret this process seals 2026 request state with.
 */
export function createMemoryShared (isLive: (sessionId: string) => boolean): Shared & { sweep (now: number): void, clear (): void } {
  const topics = new Map<string, Set<string>>()
  const listeners = new Set<(message: string) => void>()
  const secret = randomBytes(32).toString('base64url')
  const counters = new Map<string, { count: number, resetAt: number }>()
  return {
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
    },
    clear () {
      counters.clear()
      topics.clear()
      listeners.clear()
    }
  }
}
