import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'

const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  store: Type.Union([Type.Literal('memory'), Type.Literal('redis')]),
  sessions: Type.Optional(Type.Integer()),
  streams: Type.Optional(Type.Integer())
})

/** Liveness (/health: the process answers) and readiness (/ready: its store answers too). */
const healthRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/health', { schema: { response: { 200: Health } } }, async () => {
    return { status: 'ok' as const, store: fastify.sessions.kind }
  })

  fastify.get('/ready', { schema: { response: { 200: Health, 503: Health } } }, async (_request, reply) => {
    const ready = await fastify.sessions.ready().catch(() => false)
    const stats = ready ? await fastify.sessions.stats() : undefined
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ok' : 'unavailable',
      store: fastify.sessions.kind,
      sessions: stats?.sessions,
      streams: fastify.streams.count()
    })
  })
}

export default healthRoute
