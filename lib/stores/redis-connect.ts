import type { FastifyBaseLogger } from 'fastify'
import { createClient, createCluster } from 'redis'
import type { SessionOptions } from '../../schemas/options.js'

// At start an unreachable Redis is fatal (no silent fallback to memory); later, keep trying.
const reconnect = (state: { connected: boolean }) => (retries: number, cause: Error) =>
  state.connected ? Math.min(100 * 2 ** retries, 2000) : cause

/**
 * The command client and the subscriber: a single Redis (REDIS_URL), or a Redis Cluster
 * (REDIS_CLUSTER_NODES), whose client routes each command to its slot and keeps pub/sub
 * connections to the nodes itself. Commands fail at once while Redis is away (no offline queue),
 * so callers answer 503 instead of hanging.
 */
export async function connectRedis (opts: SessionOptions, log: FastifyBaseLogger) {
  const state = { connected: false }
  let lastError = 0
  const onError = (err: Error) => {
    // A broken connection emits an error per retry; one line per few seconds is enough.
    if (Date.now() - lastError > 5000) log.warn({ err: err.message }, 'Redis connection problem')
    lastError = Date.now()
  }
  const socket = { connectTimeout: 3000, reconnectStrategy: reconnect(state) }
  const nodes = opts.redisClusterNodes
  const where = nodes.length > 0 ? `REDIS_CLUSTER_NODES (${nodes.join(',')})` : `REDIS_URL (${opts.redisUrl!.replace(/\/\/[^@]*@/, '//***@')})`

  if (nodes.length > 0) {
    const cluster = createCluster({
      rootNodes: nodes.map((n) => ({ url: `redis://${n}` })),
      defaults: { disableOfflineQueue: true, socket }
    })
    cluster.on('error', onError)
    try {
      await cluster.connect()
    } catch (err) {
      try { cluster.destroy() } catch { /* was never open */ }
      throw new Error(`cannot connect to the Redis Cluster at ${where}: ${(err as Error).message}`)
    }
    state.connected = true
    return { client: cluster, subscriber: cluster, where, ping: async () => String(await cluster.sendCommand(undefined, true, ['PING'])) }
  }

  const client = createClient({ url: opts.redisUrl, disableOfflineQueue: true, socket })
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
    throw new Error(`cannot connect to Redis at ${where}: ${(err as Error).message}`)
  }
  state.connected = true
  return { client, subscriber, where, ping: () => client.ping() }
}
