import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { LimitOptions } from '../schemas/options.js'

/** Route config that opts a POST route into the per-principal rate limit. */
export const RATE_LIMITED = { rateLimit: {} }

/**
 * Per-principal limit on the POST routes (those carrying `config: RATE_LIMITED`). Registered in
 * the app's own scope, so a host app's routes are not limited by it. Off when rateLimitMax is 0.
 */
export async function registerRateLimit (fastify: FastifyInstance, limits: LimitOptions): Promise<void> {
  if (limits.rateLimitMax === 0) return
  await fastify.register(rateLimit, {
    global: false,
    max: limits.rateLimitMax,
    timeWindow: limits.rateLimitWindowMs,
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
