import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { loadOptional } from '../lib/optional.js'
import { createMemoryStore } from '../lib/stores/memory-store.js'
import type { SessionStore } from '../lib/stores/session-store.js'
import type { SessionOptions } from '../schemas/options.js'

export interface SessionsPluginOptions {
  sessions: SessionOptions
  /** A ready-made store (tests, custom backends); otherwise chosen from `sessions.redisUrl`. */
  store?: SessionStore
}

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionStore
  }
}

async function createStore (opts: SessionOptions, fastify: FastifyInstance): Promise<SessionStore> {
  if (!opts.redisUrl && opts.redisClusterNodes.length === 0) return createMemoryStore(opts)
  // Loaded only when configured, so the in-memory default does not need a Redis client installed.
  await loadOptional('redis', 'a Redis store (REDIS_URL, REDIS_CLUSTER_NODES)')
  const { createRedisStore } = await import('../lib/stores/redis-store.js')
  return createRedisStore(opts, fastify.log)
}

export default fp(async function sessionsPlugin (fastify: FastifyInstance, opts: SessionsPluginOptions) {
  const store = opts.store ?? await createStore(opts.sessions, fastify)
  fastify.decorate('sessions', store)
  fastify.addHook('onClose', async () => { await store.close() })
}, { name: 'datapulse-sessions', fastify: '5.x' })
