import type { FastifyBaseLogger } from 'fastify'
import { randomBytes } from 'node:crypto'
import { createClient } from 'redis'
import { AppError } from './errors.js'
import { ACK, OPEN, PUBLISH, TAKE, TOUCH } from './redis-scripts.js'
import type { ReadResult, SessionStore, StoredEvent } from './session-store.js'
import type { SessionOptions } from '../schemas/options.js'

const STREAM_ID = /^\d+(-\d+)?$/

function compareIds (a: string, b: string): number {
  const [am, as = '0'] = a.split('-')
  const [bm, bs = '0'] = b.split('-')
  const ms = BigInt(am) - BigInt(bm)
  if (ms !== 0n) return ms < 0n ? -1 : 1
  const seq = BigInt(as) - BigInt(bs)
  return seq === 0n ? 0 : seq < 0n ? -1 : 1
}

/** The stream id after which the next one follows: XRANGE's exclusive start. */
function exclusive (id: string): string {
  return `(${id.includes('-') ? id : `${id}-0`}`
}

/**
 * Sessions and their logs in Redis, so a POST on one instance reaches a stream held by another.
 *
 * Connections: two per instance, whatever the number of streams. One runs commands; one is
 * subscribed to a single wake-up channel carrying the id of every session that got an event, and
 * wakes this instance's readers of that session, which then XRANGE what is new. No reader blocks a
 * connection (no XREAD BLOCK per stream).
 */
export async function createRedisStore (opts: SessionOptions, log: FastifyBaseLogger): Promise<SessionStore> {
  const url = opts.redisUrl!
  const prefix = opts.redisKeyPrefix
  const channel = `${prefix}wake`
  const broadcastChannel = `${prefix}broadcast`
  const topicKey = (topic: string) => `${prefix}topic:${topic}`
  const listeners = new Set<(message: string) => void>()
  let sharedSecret: Promise<string> | undefined
  const index = `${prefix}sessions`
  const meta = (id: string) => `${prefix}{${id}}:meta`
  const logKey = (id: string) => `${prefix}{${id}}:log`
  const ownerKey = (owner: string) => `${prefix}owner:${owner}`
  const watchers = new Map<string, Set<() => void>>()

  let connectedOnce = false
  const client = createClient({
    url,
    // Commands fail at once while Redis is away (the caller answers 503) instead of queueing.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 3000,
      // At start an unreachable Redis is fatal (no silent fallback to memory); later, keep trying.
      reconnectStrategy: (retries, cause) => connectedOnce ? Math.min(100 * 2 ** retries, 2000) : cause
    }
  })
  let lastError = 0
  const onError = (err: Error) => {
    // A broken connection emits an error per retry; one line per few seconds is enough.
    if (Date.now() - lastError > 5000) log.warn({ err: err.message }, 'Redis connection problem')
    lastError = Date.now()
  }
  client.on('error', onError)
  const subscriber = client.duplicate()
  subscriber.on('error', onError)
  try {
    await client.connect()
    await subscriber.connect()
  } catch (err) {
    for (const c of [client, subscriber]) {
      try { c.destroy() } catch { /* was never open */ }
    }
    throw new Error(`cannot connect to Redis at REDIS_URL (${url.replace(/\/\/[^@]*@/, '//***@')}): ${(err as Error).message}`)
  }
  connectedOnce = true
  // After a reconnect, readers may have missed wake-ups: wake them all so they re-read.
  subscriber.on('ready', () => { for (const set of watchers.values()) for (const wake of set) wake() })
  await subscriber.subscribe(channel, (sessionId) => {
    for (const wake of watchers.get(sessionId) ?? []) wake()
  })
  await subscriber.subscribe(broadcastChannel, (message) => {
    for (const listener of listeners) listener(message)
  })

  // Sessions with a live reader on this instance stay alive, as in the memory store.
  const keepAlive = setInterval(() => {
    const now = String(Date.now())
    for (const id of watchers.keys()) {
      client.eval(TOUCH, { keys: [meta(id), logKey(id), index], arguments: [String(opts.ttlSeconds), now] }).catch(() => {})
    }
  }, Math.max(1000, Math.floor(opts.ttlSeconds * 1000 / 3)))
  keepAlive.unref()

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

  return {
    kind: 'redis',

    open: (sessionId, owner) => guarded(async () => {
      const now = Date.now()
      const result = String(await client.eval(OPEN, {
        keys: [meta(sessionId), logKey(sessionId), index],
        arguments: [owner, String(now), String(opts.ttlSeconds), String(opts.maxSessions)]
      }))
      if (result === 'forbidden') throw new AppError(403, 'session_forbidden', `session ${sessionId} belongs to another principal`)
      if (result === 'full') {
        throw new AppError(503, 'too_many_sessions', `the server holds its maximum of ${opts.maxSessions} sessions; retry later`)
      }
      if (result.startsWith('new:')) {
        // Counted only when a session is created, so refreshing one costs nothing more. Each
        // creator counts after its own add, so concurrent creators never pass the cap together.
        const key = ownerKey(owner)
        const [, , count] = await client.multi().zRemRangeByScore(key, '-inf', now).zAdd(key, { score: now + opts.ttlSeconds * 1000, value: sessionId })
          .zCard(key).pExpire(key, opts.ttlSeconds * 1000).exec() as unknown as [number, number, number]
        if (count > opts.maxSessionsPerPrincipal) {
          await client.multi().zRem(key, sessionId).del([meta(sessionId), logKey(sessionId)]).zRem(index, meta(sessionId)).exec()
          throw new AppError(429, 'too_many_sessions_for_principal',
            `at most ${opts.maxSessionsPerPrincipal} sessions per principal; close some (DELETE /mcp) or let them expire`)
        }
        return { id: sessionId, owner, createdAt: Number(result.slice(4)) }
      }
      return { id: sessionId, owner, createdAt: Number(result) }
    }),

    get: (sessionId) => guarded(async () => {
      const [owner, createdAt] = await client.hmGet(meta(sessionId), ['owner', 'createdAt'])
      return owner ? { id: sessionId, owner, createdAt: Number(createdAt) } : null
    }),

    publish: (sessionId, event) => guarded(async () => {
      const id = String(await client.eval(PUBLISH, {
        keys: [meta(sessionId), logKey(sessionId), index],
        arguments: [event.event ?? '', event.data, String(opts.maxEvents), String(opts.maxBytes),
          String(opts.ttlSeconds), String(Date.now()), channel, sessionId, event.stream ?? '']
      }))
      if (id === 'missing') throw missing(sessionId)
      return id
    }),

    read: (sessionId, afterId, limit, stream = '') => guarded(async (): Promise<ReadResult> => {
      const [cursor, trimmed, newest] = await client.hmGet(meta(sessionId), ['cursor', 'trimmed', 'last'])
      if (cursor === null || cursor === undefined) throw missing(sessionId)
      let after = afterId !== null && STREAM_ID.test(afterId) ? afterId : afterId === null ? cursor : '0-0'
      // An id beyond the newest event restarts after the delivery cursor, and the reader is told.
      let future = false
      if (compareIds(after, newest ?? '0-0') > 0) {
        after = compareIds(cursor, newest ?? '0-0') > 0 ? newest ?? '0-0' : cursor
        future = true
      }
      const entries = await client.xRange(logKey(sessionId), exclusive(after), '+', { COUNT: limit })
      const events: StoredEvent[] = []
      for (const { id, message } of entries) {
        const fields = message as Record<string, string>
        if ((fields.s ?? '') !== stream) continue
        events.push(fields.e ? { id, event: fields.e, data: fields.d } : { id, data: fields.d })
      }
      const last = entries.length > 0 ? entries[entries.length - 1].id : future ? after : null
      const gap = future || (trimmed !== null && trimmed !== undefined && compareIds(after, trimmed) < 0)
      return { events, gap, last, more: entries.length === limit }
    }),

    head: (sessionId) => guarded(async () => {
      const [last] = await client.xRevRange(logKey(sessionId), '+', '-', { COUNT: 1 })
      return last?.id ?? '0-0'
    }),

    ack: (sessionId, eventId) => guarded(async () => {
      await client.eval(ACK, { keys: [meta(sessionId)], arguments: [eventId] })
    }),

    watch (sessionId, onWake) {
      let set = watchers.get(sessionId)
      if (!set) watchers.set(sessionId, set = new Set())
      set.add(onWake)
      return () => {
        set!.delete(onWake)
        if (set!.size === 0 && watchers.get(sessionId) === set) watchers.delete(sessionId)
      }
    },

    wake: (sessionId) => guarded(async () => { await client.publish(channel, sessionId) }),

    delete: (sessionId) => guarded(async () => {
      const owner = await client.hGet(meta(sessionId), 'owner')
      if (owner) await client.zRem(ownerKey(owner), sessionId)
      await client.multi().del([meta(sessionId), logKey(sessionId)]).zRem(index, meta(sessionId)).publish(channel, sessionId).exec()
    }),

    setValue: (sessionId, key, value) => guarded(async () => {
      // Only an existing session takes values, so a value never outlives (or resurrects) one.
      const done = await client.eval(TAKE.set, { keys: [meta(sessionId)], arguments: [`v:${key}`, value] })
      if (Number(done) === 0) throw missing(sessionId)
    }),

    getValue: (sessionId, key) => guarded(async () => (await client.hGet(meta(sessionId), `v:${key}`)) ?? null),

    takeValue: (sessionId, key) => guarded(async () => {
      const value = await client.eval(TAKE.take, { keys: [meta(sessionId)], arguments: [`v:${key}`] })
      return typeof value === 'string' ? value : null
    }),

    join: (topic, sessionId) => guarded(async () => { await client.sAdd(topicKey(topic), sessionId) }),
    leave: (topic, sessionId) => guarded(async () => { await client.sRem(topicKey(topic), sessionId) }),
    members: (topic) => guarded(async () => client.sMembers(topicKey(topic))),

    secret: () => guarded(async () => {
      // The first instance to ask sets it; every other one reads the same value.
      sharedSecret ??= (async () => {
        await client.set(`${prefix}secret`, randomBytes(32).toString('base64url'), { NX: true })
        return (await client.get(`${prefix}secret`))!
      })().catch((err: unknown) => { sharedSecret = undefined; throw err })
      return sharedSecret
    }),

    broadcast: (message) => guarded(async () => { await client.publish(broadcastChannel, message) }),
    onBroadcast (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },

    stats: () => guarded(async () => {
      await client.zRemRangeByScore(index, '-inf', Date.now())
      // Counting undelivered frames would mean reading every session; Redis reports sessions only.
      return { sessions: await client.zCard(index), queuedFrames: 0 }
    }),

    async ready () {
      try {
        return client.isReady && (await client.ping()) === 'PONG'
      } catch {
        return false
      }
    },

    async close () {
      clearInterval(keepAlive)
      watchers.clear()
      listeners.clear()
      await Promise.allSettled([subscriber.close(), client.close()])
    }
  }
}
