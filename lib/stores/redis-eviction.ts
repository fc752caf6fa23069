import { EVICT, TOUCH } from './redis-scripts.js'

interface Keys {
  index: string
  meta: (id: string) => string
  logKey: (id: string) => string
  ownerKey: (owner: string) => string
  wakeChannel: (id: string) => string
}

interface EvictionClient {
  zRange (key: string, start: number, stop: number): Promise<string[]>
  zRem (key: string, member: string): Promise<unknown>
  zAdd (key: string, member: { score: number, value: string }): Promise<unknown>
  sPublish (channel: string, message: string): Promise<unknown>
}

/**
 * The Redis store's session budget: reader leases and least-recently-used eviction. Sessions
 * with a live reader on this instance stay alive, as in the memory store, and hold a reader lease
 * (field w of the session hash) that outlasts the next refresh, so no instance evicts them.
 */
export function createRedisEviction (o: {
  client: EvictionClient
  script: (body: string, options: { keys: string[], arguments: string[] }) => Promise<unknown>
  keys: Keys
  watchers: Map<string, unknown>
  pinned: Map<string, number>
  indexRefreshed: Map<string, number>
  ttlSeconds: number
}) {
  const { client, script, keys: { index, meta, logKey, ownerKey, wakeChannel } } = o
  const keepAliveMs = Math.max(1000, Math.floor(o.ttlSeconds * 1000 / 3))
  let evictions = 0
  const touch = (id: string, now: number) => {
    script(TOUCH, { keys: [meta(id), logKey(id)], arguments: [String(o.ttlSeconds), String(now + 2 * keepAliveMs + 5000)] }).catch(() => {})
  }
  const keepAlive = setInterval(() => {
    const now = Date.now()
    for (const id of o.watchers.keys()) {
      touch(id, now)
      client.zAdd(index, { score: now + o.ttlSeconds * 1000, value: id }).catch(() => {})
    }
  }, keepAliveMs)
  keepAlive.unref()

  /**
   * Removes the least recently used unused session of `order` (the index, or an owner's set;
   * both scored by expiry): first one with nothing undelivered, else any without a reader or a
   * call. False when the front of the order is all in use.
   */
  async function evictOne (order: string, except: string): Promise<boolean> {
    const candidates = (await client.zRange(order, 0, 31)).filter((id) => id !== except && !o.watchers.has(id) && !o.pinned.has(id))
    const now = String(Date.now())
    for (const mode of ['clean', 'any']) {
      for (const id of candidates) {
        const result = String(await script(EVICT, { keys: [meta(id), logKey(id)], arguments: [now, mode] }))
        if (result === '') continue
        o.indexRefreshed.delete(id)
        const owner = result.startsWith('owner:') ? result.slice(6) : null
        await Promise.all([client.zRem(index, id), owner === null ? null : client.zRem(ownerKey(owner), id)])
        if (owner === null) continue
        evictions++
        client.sPublish(wakeChannel(id), 'deleted').catch(() => {})
        return true
      }
    }
    return false
  }

  return { touch, evictOne, evictions: () => evictions, stop: () => clearInterval(keepAlive) }
}
