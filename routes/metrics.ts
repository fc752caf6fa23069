import type { FastifyPluginAsync } from 'fastify'

/** GET /metrics: Prometheus text format. Unauthenticated, like /health; turn off with METRICS=false. */
const metricsRoute: FastifyPluginAsync = async (fastify) => {
  fastify.get('/metrics', async (_request, reply) => {
    reply.type(fastify.metrics.contentType)
    return fastify.metrics.metrics()
  })
}

export default metricsRoute
