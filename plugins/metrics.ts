import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { ServerResponse } from 'node:http'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

const kRoute = Symbol('datapulse.route')
type CountedResponse = ServerResponse & { [kRoute]?: string }

/**
 * Prometheus metrics in a registry of this app's own: two apps in one process (tests, embedding)
 * never share or collide, and prom-client's global registry is left to the host.
 */
export function createMetrics (fastify: FastifyInstance) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'datapulse_' })

  // Counted in a plain map and handed to prom-client when scraped: the per-request cost is one
  // map update, not a label hash.
  const served = new Map<string, { labels: { method: string, route: string, status: string }, n: number }>()
  new Counter({
    name: 'datapulse_http_requests_total',
    help: 'HTTP requests by method, route and status (SSE streams are counted when they end)',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
    collect () {
      this.reset()
      for (const { labels, n } of served.values()) this.inc(labels, n)
    }
  })
  const calls = new Counter({
    name: 'datapulse_tool_calls_total',
    help: 'Tool calls by tool and outcome (ok, or the error code)',
    labelNames: ['tool', 'outcome'],
    registers: [registry]
  })
  const duration = new Histogram({
    name: 'datapulse_tool_call_duration_seconds',
    help: 'Tool call duration',
    labelNames: ['tool'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry]
  })
  // Gauges read the live state when scraped instead of being kept in step on every change.
  new Gauge({
    name: 'datapulse_open_streams',
    help: 'SSE streams open on this instance',
    registers: [registry],
    collect () { this.set(fastify.streams.count()) }
  })
  new Gauge({
    name: 'datapulse_sessions',
    help: 'Sessions held by the session store',
    registers: [registry],
    async collect () { this.set((await fastify.sessions.stats().catch(() => ({ sessions: 0 }))).sessions) }
  })
  new Gauge({
    name: 'datapulse_queued_frames',
    help: 'Frames waiting for a stream to deliver them (memory store only)',
    registers: [registry],
    async collect () { this.set((await fastify.sessions.stats().catch(() => ({ queuedFrames: 0 }))).queuedFrames) }
  })
  new Gauge({
    name: 'datapulse_sessions_limit',
    help: 'The session budget in force: MAX_SESSIONS, or the one sized to the heap',
    registers: [registry],
    async collect () { this.set((await fastify.sessions.stats().catch(() => ({ maxSessions: 0 }))).maxSessions ?? 0) }
  })
  new Counter({
    name: 'datapulse_sessions_evicted_total',
    help: 'Idle sessions this instance removed to make room for new ones',
    registers: [registry],
    async collect () {
      this.reset()
      this.inc((await fastify.sessions.stats().catch(() => ({ evictions: 0 }))).evictions ?? 0)
    }
  })
  new Gauge({
    name: 'datapulse_tool_calls_in_flight',
    help: 'Tool calls running now',
    registers: [registry],
    collect () { this.set(fastify.calls.inFlight()) }
  })

  // Label children are made once per tool and outcome, not looked up by hash on every call.
  const perTool = new Map<string, { timing: ReturnType<typeof duration.labels>, outcomes: Map<string, ReturnType<typeof calls.labels>> }>()
  fastify.tools.observe((tool, outcome, seconds) => {
    let t = perTool.get(tool)
    if (!t) perTool.set(tool, t = { timing: duration.labels({ tool }), outcomes: new Map() })
    let counted = t.outcomes.get(outcome)
    if (!counted) t.outcomes.set(outcome, counted = calls.labels({ tool, outcome }))
    counted.inc()
    t.timing.observe(seconds)
  })
  // 'close' on the raw response fires for ordinary replies and for hijacked SSE streams alike.
  // One listener for every response, reading what it counts from the response itself: a closure
  // per request would keep each SSE stream's request and reply alive as long as the stream.
  function countServed (this: CountedResponse) {
    const method = this.req.method ?? 'GET'
    const route = this[kRoute] ?? 'unmatched'
    const status = this.statusCode
    const key = `${method} ${route} ${status}`
    const entry = served.get(key)
    if (entry) entry.n++
    else served.set(key, { labels: { method, route, status: String(status) }, n: 1 })
  }
  fastify.addHook('onRequest', (request, reply, done) => {
    (reply.raw as CountedResponse)[kRoute] = request.routeOptions.url
    reply.raw.on('close', countServed)
    done()
  })

  return registry
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry
  }
}

export default fp(async function metricsPlugin (fastify: FastifyInstance) {
  fastify.decorate('metrics', createMetrics(fastify))
}, { name: 'datapulse-metrics', fastify: '5.x', dependencies: ['datapulse-tools', 'datapulse-streams', 'datapulse-calls'] })
