import { lazyChild } from '../lib/logging/log.js'
import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { AppError } from '../lib/errors.js'
import { RATE_LIMITED } from '../plugins/rate-limit.js'
import { acceptClientMessage, initializeSession, mcpGapNotice, progressTokenOf, sessionScope } from '../lib/mcp/session.js'
import { acceptRawBodies, classify, parseRpcBody, RequestCancelled, rpcError, rpcResult, RpcError } from '../lib/mcp/rpc.js'
import type { Channel } from '../lib/mcp/context.js'
import { ErrorCodes, PROTOCOL_VERSIONS, SseSessionQuery, type JsonRpcResponse } from '../schemas/jsonrpc.js'
import { ErrorResponse } from '../schemas/envelope.js'

export interface McpRouteOptions {
  bodyLimit: number
  /** Messages one JSON-RPC batch may hold. */
  maxBatch: number
  /** How long a Streamable HTTP answer may take before it becomes a stream instead of JSON. */
  jsonWindowMs: number
  /** 2026-07-28 caching hint for lists when definitions set none. */
  listTtlMs: number
}

/**
 * MCP's HTTP+SSE transport (protocol 2024-11-05, deprecated by the spec but still used): GET /sse
 * opens a session and tells the client where to POST; POST /messages answers 202 and every
 * message for the session (responses, notifications, server requests) arrives on that one stream.
 */
const sseRoutes: FastifyPluginAsync<McpRouteOptions> = async (fastify, opts) => {
  acceptRawBodies(fastify, opts.bodyLimit)

  fastify.get('/sse', {
    config: RATE_LIMITED,
    onRequest: fastify.auth.authenticate,
    schema: { response: { '4xx': ErrorResponse, '5xx': ErrorResponse } }
  }, async (request, reply) => {
    const principal = request.principal!
    const sessionId = randomUUID()
    // This transport cannot resume a stream, so delivered messages are not kept.
    await fastify.sessions.open(sessionId, principal.id, { replay: false })
    fastify.streams.serve(reply, {
      sessionId,
      owner: principal.id,
      expiresAt: principal.expiresAt,
      lastEventId: null,
      preamble: `event: endpoint\ndata: ${fastify.prefix}/messages?sessionId=${sessionId}\n\n`,
      gapFrame: mcpGapNotice,
      // Every request's progress and result share this one stream.
      separateResponses: true,
      // The session lives exactly as long as its stream in this transport.
      onClose: () => {
        fastify.calls.abortSession(sessionId, 'stream closed')
        fastify.sessions.delete(sessionId).catch(() => {})
      }
    })
  })

  fastify.post<{ Querystring: { sessionId: string }, Body: string }>('/messages', {
    config: RATE_LIMITED,
    onRequest: fastify.auth.authenticate,
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
    const parsed = parseRpcBody(request.body, opts.maxBatch)
    if ('error' in parsed) return reply.code(400).send(parsed.error)
    const log = lazyChild(request.log, { sessionId })
    const publish = (message: unknown) => fastify.sessions.publish(sessionId, { event: 'message', data: JSON.stringify(message) }).then(() => {})
    const channel: Channel = {
      notify: (method, params) => publish({ jsonrpc: '2.0', method, params }),
      request: (method, params, signal) => fastify.mcp.clientRequests.ask(sessionId, publish, method, params, signal)
    }
    const scope = sessionScope(fastify, sessionId)
    const refused: JsonRpcResponse[] = []
    for (const message of parsed.messages.map(classify)) {
      if (message.kind === 'invalid') {
        refused.push(message.error)
        continue
      }
      if (message.kind !== 'request') {
        try {
          await acceptClientMessage(fastify, sessionId, message)
        } catch (err) {
          if (!(err instanceof RpcError)) throw err
          refused.push(rpcError(null, err.code, err.message))
        }
        continue
      }
      const { id, method, params } = message
      const run = method === 'initialize'
        ? initializeSession(fastify, sessionId, params, PROTOCOL_VERSIONS)
        : fastify.mcp.dispatch({
          app: fastify, era: '2025', requestId: id, principal, sessionId, log, channel, ...scope, headers: request.headers,
          progressToken: progressTokenOf(params)
        }, method, params)
      // Answers arrive on the stream, whenever they are ready; a store outage is waited out.
      const respond = (message: unknown) => fastify.streams.deliver(sessionId, { event: 'message', data: JSON.stringify(message) }, log)
      run.then((result) => respond(rpcResult(id, result)), (err: unknown) => {
        if (err instanceof RequestCancelled) return
        if (err instanceof RpcError) return respond(rpcError(id, err.code, err.message, err.data))
        log.error({ err, method }, 'MCP request failed')
        return respond(rpcError(id, ErrorCodes.internalError, 'internal error'))
      }).catch((err: unknown) => log.error({ err }, 'could not deliver a JSON-RPC response'))
    }
    if (refused.length > 0) return reply.code(400).send(parsed.batch ? refused : refused[0])
    return reply.code(202).send()
  })
}

export default sseRoutes
