import type { FastifyBaseLogger } from 'fastify'
import { randomBytes } from 'node:crypto'
import { AppError } from '../errors.js'
import { ACK, createScriptRunner, HIT, OPEN, PUBLISH, PUT_RECORD, READ, TAKE } from './redis-scripts.js'
import { connectRedis } from './redis-connect.js'
import { createRedisEviction } from './redis-eviction.js'
import { createLocalTail } from './redis-local-tail.js'
import { sessionCap, type ReadResult, type SessionStore, type StoredEvent } from './session-store.js'
import type { SessionOptions } from '../../schemas/options.js'

const STREAM_ID = /^\d+(-\d+)?$/

/**
 * Sessions and their logs in Redis, so a POST on one instance reaches a stream held by another;
 * a single Redis (`REDIS_URL`) or a Redis Cluster (`REDIS_CLUSTER_NODES`).
 *
 * Connections: a few per instance, whatever the number of streams: one runs commands; the
 * subscriber holds the broadcast channel and, per session that has a reader on this instance, that
 * session's wake-up channel (sharded pub/sub, in the session's own slot). A publish therefore wakes
 * only the instances reading that session, and the cost of a publish does not grow with the
 * fleet. Woken readers XRANGE what is new; no reader blocks a connection (no XREAD BLOCK).
 */
export async function createRedisStore (opts: SessionOptions, log: FastifyBaseLogger): Promise<SessionStore> {
  const prefix = opts.redisKeyPrefix
  const broadcastChannel = `${prefix}broadcast`
  const topicKey = (topic: string) => `${prefix}topic:${topic}`
  const listeners = new Set<(message: string) => void>()
  let sharedSecret: Promise<string> | undefined
  const index = `${prefix}sessions`
  const meta = (id: string) => `${prefix}{${id}}:meta`
  const logKey = (id: string) => `${prefix}{${id}}:log`
  const wakeChannel = (id: string) => `${prefix}{${id}}:wake`
  const ownerKey = (owner: string) => `${prefix}owner:${owner}`
  const recordKey = (key: string) => `${prefix}record:{${key}}`
  const watchers = new Map<string, Set<() => void>>()
  const tail = createLocalTail()
  const subscriptions = new Map<Set<() => void>, () => void>()
  // When this instance last moved a session's expiry score in the index (see open).
  const indexRefreshed = new Map<string, number>()
  const indexRefreshMs = Math.min(60_000, opts.ttlSeconds * 100)

  const { client, subscriber, ping } = await connectRedis(opts, log)
  const script = await createScriptRunner(client, opts.redisClusterNodes.length === 0)
  const wakeAll = (sessionId: string) => { for (const wake of watchers.get(sessionId) ?? []) wake() }
  // After a reconnect, readers may have missed wake-ups: wake them all so they re-read.
  subscriber.on('ready', () => {
    tail.forget()
    for (const id of watchers.keys()) wakeAll(id)
  })
  await subscriber.subscribe(broadcastChannel, (message) => {
    for (const listener of listeners) listener(message)
  })

  // Calls in flight on this instance; other instances see such a session as recently used.
  const pinned = new Map<string, number>()
  const perOwner = opts.maxSessionsPerPrincipal
  const maxSessions = sessionCap(opts.maxSessions)
  const lru = createRedisEviction({ client, script, keys: { index, meta, logKey, ownerKey, wakeChannel }, watchers, pinned, indexRefreshed, ttlSeconds: opts.ttlSeconds })
  const touch = lru.touch
  const evictOne = lru.evictOne

  /** Runs a Redis operation, turning a connection failure into a clear 503. */
  async function guarded<T> (work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (err) {
      if (err instanceof AppError) throw err
      throw new AppError(503, 'store_unavailable', `session store unavailable, retry shortly: ${(err as Error).message}`)
    }
  }

  function missing (sessionId: string): AppError {
    return new AppError(404, 'session_not_found', `session ${sessionId} does not exist or has expired`)
  }

  /** One round trip: the events after a position, with what the reader must know about gaps. */
  const readRedis = (sessionId: string, afterId: string | null, limit: number, stream: string) => guarded(async (): Promise<ReadResult> => {
    // null: after the delivery cursor; an id that is no stream id: from the start.
    const from = afterId === null ? '' : STREAM_ID.test(afterId) ? afterId : '0-0'
    const reply = await script(READ, { keys: [meta(sessionId), logKey(sessionId)], arguments: [from, String(limit)] })
    if (reply === 'missing') throw missing(sessionId)
    const [after, gap, future, entries] = reply as [string, number, number, Array<[string, string[]]>]
    const events: StoredEvent[] = []
    for (const [id, list] of entries) {
      const fields: Record<string, string> = {}
      for (let i = 0; i < list.length; i += 2) fields[list[i]] = list[i + 1]
      if ((fields.s ?? '') !== stream) continue
      events.push(fields.e ? { id, event: fields.e, data: fields.d } : { id, data: fields.d })
    }
    const last = entries.length > 0 ? entries[entries.length - 1][0] : future === 1 ? after : null
    return { events, gap: gap === 1, last, more: entries.length === limit }
  })

  return {
    kind: 'redis',

    open: (sessionId, owner) => guarded(async () => {
      const now = Date.now()
      // Every request renews the keys' TTL but the index score only every indexRefreshMs, and a
      // publish renews the keys too: the index entry is made to outlive the keys, not the reverse,
      // so a session is never counted gone while it can still be resumed. One counted a little
      // too long is dropped by the next eviction (EVICT finds it gone) or the stats' prune.
      const expires = now + opts.ttlSeconds * 1000 + indexRefreshMs
      // The session index lives in a slot of its own, so it is kept beside the script, not in it.
      // Its expiry score need not move on every request: a score refreshed a tenth of the TTL ago
      // still lies far ahead, and a busy session's POSTs skip one round trip each.
      const refresh = now - (indexRefreshed.get(sessionId) ?? 0) >= indexRefreshMs
      const [result] = await Promise.all([
        script(OPEN, { keys: [meta(sessionId), logKey(sessionId)], arguments: [owner, String(now), String(opts.ttlSeconds)] }).then(String),
        refresh ? client.zAdd(index, { score: expires, value: sessionId }, { XX: true }) : null
      ])
      if (refresh) {
        if (indexRefreshed.size >= 10_000) indexRefreshed.clear()
        indexRefreshed.set(sessionId, now)
      }
      if (result === 'forbidden') throw new AppError(403, 'session_forbidden', `session ${sessionId} belongs to another principal`)
      if (!result.startsWith('new:')) return { id: sessionId, owner, createdAt: Number(result) }
      // Counted only when a session is created, so refreshing one costs nothing more. Each creator
      // counts after its own add, so concurrent creators never pass a cap together.
      const key = ownerKey(owner)
      const [[, , total], [, , mine]] = await Promise.all([
        client.multi().zRemRangeByScore(index, '-inf', now).zAdd(index, { score: expires, value: sessionId }).zCard(index).exec(),
        client.multi().zRemRangeByScore(key, '-inf', now).zAdd(key, { score: expires, value: sessionId }).zCard(key).pExpire(key, opts.ttlSeconds * 1000).exec()
      ]) as unknown as [[number, number, number], [number, number, number]]
      const ownerFull = perOwner > 0 && mine > perOwner
      if ((ownerFull || total > maxSessions) && !await evictOne(ownerFull ? key : index, sessionId)) {
        await Promise.all([client.zRem(key, sessionId), client.zRem(index, sessionId), client.del([meta(sessionId), logKey(sessionId)])])
        if (!ownerFull) {
          throw new AppError(503, 'too_many_sessions', `all ${maxSessions} sessions are in use (streaming or running calls); retry later`)
        }
        throw new AppError(429, 'too_many_sessions_for_principal',
          `all ${perOwner} sessions of this principal are in use (streaming or running calls); retry later`)
      }
      return { id: sessionId, owner, createdAt: Number(result.slice(4)) }
    }),

    get: (sessionId) => guarded(async () => {
      const [owner, createdAt] = await client.hmGet(meta(sessionId), ['owner', 'createdAt'])
      return owner ? { id: sessionId, owner, createdAt: Number(createdAt) } : null
    }),

    publish (sessionId, event) {
      // A reader here gets the event from the reply, without its pub/sub message and a read back.
      const mine = tail.sending(sessionId)
      return guarded(async () => {
        let reply: unknown
        try {
          reply = await script(PUBLISH, {
            keys: [meta(sessionId), logKey(sessionId)],
            arguments: [event.event ?? '', event.data, String(opts.maxEvents), String(opts.maxBytes),
              String(opts.ttlSeconds), wakeChannel(sessionId), event.stream ?? '']
          })
          if (reply === 'missing') throw missing(sessionId)
        } catch (err) {
          if (mine && tail.failed(mine)) wakeAll(sessionId)
          throw err
        }
        const [id, prev] = reply as [string, string]
        if (mine && tail.published(mine, prev, id, event)) wakeAll(sessionId)
        return id
      })
    },

    read (sessionId, afterId, limit, stream = '') {
      const local = tail.read(sessionId, afterId, limit, stream)
      return local ? Promise.resolve(local) : readRedis(sessionId, afterId, limit, stream)
    },

    head: (sessionId) => guarded(async () => {
      const [last] = await client.xRevRange(logKey(sessionId), '+', '-', { COUNT: 1 })
      return last?.id ?? '0-0'
    }),

    ack: (sessionId, eventId) => guarded(async () => {
      await script(ACK, { keys: [meta(sessionId)], arguments: [eventId] })
    }),

    watch (sessionId, onWake) {
      let set = watchers.get(sessionId)
      if (!set) {
        watchers.set(sessionId, set = new Set())
        // The first reader of a session on this instance subscribes to its channel; the listener
        // is this set's own, so a late unsubscribe of an earlier set never removes it.
        tail.follow(sessionId)
        const listener = (message?: string) => {
          if (tail.announce(sessionId, message)) for (const wake of set!) wake()
        }
        subscriptions.set(set, listener)
        // Anything published before the subscription took effect is picked up by one more read.
        subscriber.sSubscribe(wakeChannel(sessionId), listener).then(() => listener(), () => {})
        touch(sessionId, Date.now())
      }
      set.add(onWake)
      return () => {
        set!.delete(onWake)
        if (set!.size === 0 && watchers.get(sessionId) === set) {
          watchers.delete(sessionId)
          tail.unfollow(sessionId)
          // The reader lease ends with this instance's last reader (see TOUCH).
          client.hDel(meta(sessionId), 'w').catch(() => {})
          subscriber.sUnsubscribe(wakeChannel(sessionId), subscriptions.get(set!)).catch(() => {})
          subscriptions.delete(set!)
        }
      }
    },

    pin (sessionId) {
      pinned.set(sessionId, (pinned.get(sessionId) ?? 0) + 1)
      let done = false
      return () => {
        if (done) return
        done = true
        const left = pinned.get(sessionId)! - 1
        if (left === 0) pinned.delete(sessionId)
        else pinned.set(sessionId, left)
      }
    },

    wake: (sessionId) => guarded(async () => { await client.sPublish(wakeChannel(sessionId), 'wake') }),

    delete: (sessionId) => guarded(async () => {
      indexRefreshed.delete(sessionId)
      const owner = await client.hGet(meta(sessionId), 'owner')
      await Promise.all([
        owner ? client.zRem(ownerKey(owner), sessionId) : null,
        client.zRem(index, sessionId),
        client.del([meta(sessionId), logKey(sessionId)])
      ])
      await client.sPublish(wakeChannel(sessionId), 'deleted')
    }),

    setValue: (sessionId, key, value) => guarded(async () => {
      // Only an existing session takes values, so a value never outlives (or resurrects) one.
      const done = await script(TAKE.set, { keys: [meta(sessionId)], arguments: [`v:${key}`, value] })
      if (Number(done) === 0) throw missing(sessionId)
    }),

    getValue: (sessionId, key) => guarded(async () => (await client.hGet(meta(sessionId), `v:${key}`)) ?? null),

    takeValue: (sessionId, key) => guarded(async () => {
      const value = await script(TAKE.take, { keys: [meta(sessionId)], arguments: [`v:${key}`] })
      return typeof value === 'string' ? value : null
    }),

    join: (topic, sessionId) => guarded(async () => { await client.sAdd(topicKey(topic), sessionId) }),
    leave: (topic, sessionId) => guarded(async () => { await client.sRem(topicKey(topic), sessionId) }),
    members: (topic) => guarded(async () => client.sMembers(topicKey(topic))),

    getRecord: (key) => guarded(async () => {
      const [version, value] = await client.hmGet(recordKey(key), ['v', 'd'])
      return version && value !== null && value !== undefined ? { value, version: Number(version) } : null
    }),

    putRecord: (key, value, version, ttlMs) => guarded(async () =>
      Number(await script(PUT_RECORD, { keys: [recordKey(key)], arguments: [String(version), value, String(Math.max(1, Math.ceil(ttlMs)))] })) === 1),

    secret: () => guarded(async () => {
      // The first instance to ask sets it; every other one reads the same value.
      sharedSecret ??= (async () => {
        await client.set(`${prefix}secret`, randomBytes(32).toString('base64url'), { NX: true })
        return (await client.get(`${prefix}secret`))!
      })().catch((err: unknown) => { sharedSecret = undefined; throw err })
      return sharedSecret
    }),

    hit: (key, windowMs) => guarded(async () => {
      const [count, ttlMs] = await script(HIT, { keys: [`${prefix}rate:${key}`], arguments: [String(windowMs)] }) as [number, number]
      return { count, ttlMs }
    }),

    broadcast: (message) => guarded(async () => { await client.publish(broadcastChannel, message) }),
    onBroadcast (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },

    stats: () => guarded(async () => {
      await client.zRemRangeByScore(index, '-inf', Date.now())
      // Counting undelivered frames would mean reading every session; Redis reports sessions only.
      return { sessions: await client.zCard(index), queuedFrames: 0, evictions: lru.evictions(), maxSessions }
    }),

    async ready () {
      try {
        return (await ping()) === 'PONG'
      } catch {
        return false
      }
    },

    async close () {
      lru.stop()
      watchers.clear()
      listeners.clear()
      // A command sent while Redis was away (an unsubscribe when a stream ended during an outage)
      // can keep close() waiting for an answer that never comes: give up on it after a moment.
      let timer: NodeJS.Timeout | undefined
      const closed = await Promise.race([
        Promise.allSettled([subscriber.close(), client.close()]).then(() => true),
        new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), 2000) })
      ])
      clearTimeout(timer)
      if (!closed) {
        for (const c of new Set([subscriber, client])) {
          try { c.destroy() } catch { /* already gone */ }
        }
      }
    }
  }
}
