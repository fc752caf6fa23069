import { loadOptional } from '../lib/optional.js'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { LimitOptions } from '../schemas/options.js'

/** Route config that opts a route into the per-principal rate limit. */
export const RATE_LIMITED = { rateLimit: {} }

type Incr = (key: string, cb: (err: Error | null, res: { current: number, ttl: number } | null) => void, timeWindow: number) => void

/**
 * Per-principal limit on the routes carrying `config: RATE_LIMITED`. Registered in the app's own
 * scope, so a host app's routes are not limited by it. Off when rateLimitMax is 0. Counters live
 * in the session store, so behind a load balancer a client's requests count once, whichever
 * instance they reach (Redis), and per process otherwise.
 */
export async function registerRateLimit (fastify: FastifyInstance, limits: LimitOptions): Promise<void> {
  if (limits.rateLimitMax === 0) return
  const { default: rateLimit } = await loadOptional<typeof import('@fastify/rate-limit')>('@fastify/rate-limit', 'RATE_LIMIT_MAX (limits.rateLimitMax)')
  const sessions = fastify.sessions
  // @fastify/rate-limit's store contract: a class with incr() and child() per route.
  class SharedStore {
    constructor (readonly prefix = 'rl:') {}
    incr: Incr = (key, cb, timeWindow) => {
      sessions.hit(this.prefix + key, timeWindow).then(({ count, ttlMs }) => cb(null, { current: count, ttl: ttlMs }), (err: Error) => cb(err, null))
    }

    // One budget per principal across every limited route, as documented: a per-route counter
    // would multiply the budget by the number of routes.
    child () {
      return this
    }
  }
  await fastify.register(rateLimit, {
    global: false,
    max: limits.rateLimitMax,
    timeWindow: limits.rateLimitWindowMs,
    store: SharedStore as never,
    // Runs after authentication (the route's own onRequest hook comes first), so the key is the
    // principal, not an address a proxy may share among many users.
    keyGenerator: (request: FastifyRequest) => request.principal?.id ?? request.ip,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: 'Too Many Requests',
      code: 'rate_limited',
      message: `rate limit of ${context.max} requests per ${context.after} exceeded; retry later`
    })
  })
}
