import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { AppError } from '../lib/errors.js'
import { RATE_LIMITED } from '../plugins/rate-limit.js'
import { acceptRawBodies, handleRpc, parseRpcBody } from '../lib/mcp.js'
import { originGuard } from '../lib/origin.js'
import { SseSessionQuery } from '../schemas/jsonrpc.js'
import { ErrorResponse } from '../schemas/envelope.js'

export interface McpRouteOptions {
  bodyLimit: number
  allowedOrigins: string[]
}

/**
 * MCP's HTTP+SSE transport (protocol 2024-11-05): GET /sse opens a session and tells the client
 * where to POST; POST /messages answers 202 and the JSON-RPC responses arrive on the stream.
 */
const sseRoutes: FastifyPluginAsync<McpRouteOptions> = async (fastify, opts) => {
  const checkOrigin = originGuard(opts.allowedOrigins)
  acceptRawBodies(fastify, opts.bodyLimit)

  fastify.get('/sse', {
    onRequest: [checkOrigin, fastify.auth.authenticate],
    schema: { response: { '4xx': ErrorResponse, '5xx': ErrorResponse } }
  }, async (request, reply) => {
    const principal = request.principal!
    const sessionId = randomUUID()
    await fastify.sessions.open(sessionId, principal.id)
    fastify.streams.serve(reply, {
      sessionId,
      owner: principal.id,
      lastEventId: null,
      preamble: `event: endpoint\ndata: ${fastify.prefix}/messages?sessionId=${sessionId}\n\n`,
      // The session lives exactly as long as its stream in this transport.
      onClose: () => {
        fastify.calls.abortSession(sessionId, 'stream closed')
        fastify.sessions.delete(sessionId).catch(() => {})
      }
    })
  })

  fastify.post<{ Querystring: { sessionId: string }, Body: string }>('/messages', {
    config: RATE_LIMITED,
    onRequest: [checkOrigin, fastify.auth.authenticate],
    bodyLimit: opts.bodyLimit,
    // No response schema: 400s here are JSON-RPC error objects, not ErrorResponse.
    schema: { querystring: SseSessionQuery }
  }, async (request, reply) => {
    const { sessionId } = request.query
    const principal = request.principal!
    const session = await fastify.sessions.get(sessionId)
    if (!session || session.owner !== principal.id) {
      throw new AppError(404, 'session_not_found', `session ${sessionId} does not exist; open GET /sse first`)
    }
    const parsed = parseRpcBody(request.body)
    if ('error' in parsed) return reply.code(400).send(parsed.error)
    const { messages } = parsed
    const log = request.log.child({ sessionId })
    for (const message of messages) {
      handleRpc(fastify, { sessionId, principal, log }, message)
        .then((response) => response && fastify.sessions.publish(sessionId, { event: 'message', data: JSON.stringify(response) }))
        .catch((err: unknown) => log.error({ err }, 'could not publish a JSON-RPC response'))
    }
    return reply.code(202).send()
  })
}

export default sseRoutes
