import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { formatEvent, startSse } from '../lib/sse.js'
import { acceptRawBodies, handleRpc, isRequest, parseRpcBody, rpcError } from '../lib/mcp.js'
import { originGuard } from '../lib/origin.js'
import { RATE_LIMITED } from '../plugins/rate-limit.js'
import type { Principal } from '../plugins/auth.js'
import { DEFAULT_HTTP_VERSION, ErrorCodes, PROTOCOL_VERSIONS, type JsonRpcResponse } from '../schemas/jsonrpc.js'
import type { McpRouteOptions } from './sse.js'

const SESSION_HEADER = 'mcp-session-id'

function headerOf (request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/**
 * MCP Streamable HTTP (protocol 2025-03-26 and later) on one endpoint, /mcp: POST carries
 * client messages, GET opens the server-to-client stream, DELETE ends the session.
 */
const mcpRoutes: FastifyPluginAsync<McpRouteOptions> = async (fastify, opts) => {
  const checkOrigin = originGuard(opts.allowedOrigins)
  acceptRawBodies(fastify, opts.bodyLimit)

  /** Checks MCP-Protocol-Version; answers 400 itself and returns null when unsupported. */
  function protocolVersion (request: FastifyRequest, reply: FastifyReply): string | null {
    const version = headerOf(request, 'mcp-protocol-version') ?? DEFAULT_HTTP_VERSION
    if ((PROTOCOL_VERSIONS as readonly string[]).includes(version) && version !== '2024-11-05') return version
    reply.code(400).send(rpcError(null, ErrorCodes.invalidRequest,
      `unsupported MCP-Protocol-Version "${version}"; supported: ${PROTOCOL_VERSIONS.filter((v) => v !== '2024-11-05').join(', ')}`))
    return null
  }

  /** The caller's session from Mcp-Session-Id, or null after answering 400/404. */
  async function sessionOf (request: FastifyRequest, reply: FastifyReply, principal: Principal): Promise<string | null> {
    const sessionId = headerOf(request, SESSION_HEADER)
    if (!sessionId) {
      reply.code(400).send(rpcError(null, ErrorCodes.invalidRequest, 'Mcp-Session-Id header is required (send initialize first)'))
      return null
    }
    const session = await fastify.sessions.get(sessionId)
    // Another principal's session is reported exactly like a missing one: ids are not disclosed.
    if (!session || session.owner !== principal.id) {
      reply.code(404).send(rpcError(null, -32001, 'session not found or expired; initialize a new one'))
      return null
    }
    await fastify.sessions.open(sessionId, principal.id)
    return sessionId
  }

  const onRequest = [checkOrigin, fastify.auth.authenticate]

  fastify.post<{ Body: string }>('/mcp', { onRequest, bodyLimit: opts.bodyLimit, config: RATE_LIMITED }, async (request, reply) => {
    const principal = request.principal!
    const accept = headerOf(request, 'accept') ?? ''
    const wantsSse = /text\/event-stream/.test(accept)
    if (!wantsSse && !/application\/json|\*\/\*/.test(accept)) {
      return reply.code(406).send(rpcError(null, ErrorCodes.invalidRequest, 'Accept must include application/json and text/event-stream'))
    }
    const version = protocolVersion(request, reply)
    if (version === null) return reply
    const parsed = parseRpcBody(request.body)
    if ('error' in parsed) return reply.code(400).send(parsed.error)
    const { messages, batch } = parsed
    // JSON-RPC batches exist only in protocol 2025-03-26; later versions removed them.
    if (batch && version !== '2025-03-26') {
      return reply.code(400).send(rpcError(null, ErrorCodes.invalidRequest, `batches are not supported in protocol ${version}`))
    }

    const initialize = messages.find((m) => isRequest(m) && (m as { method: string }).method === 'initialize')
    let sessionId: string | null
    if (initialize) {
      if (messages.length > 1) return reply.code(400).send(rpcError(null, ErrorCodes.invalidRequest, 'initialize must be sent alone'))
      sessionId = randomUUID()
      await fastify.sessions.open(sessionId, principal.id)
      reply.header(SESSION_HEADER, sessionId)
    } else {
      sessionId = await sessionOf(request, reply, principal)
      if (sessionId === null) return reply
    }
    const ctx = { sessionId, principal, log: request.log.child({ sessionId }) }
    const requests = messages.filter(isRequest)
    if (requests.length === 0) {
      await Promise.all(messages.map((m) => handleRpc(fastify, ctx, m)))
      return reply.code(202).send()
    }

    if (!wantsSse || initialize) {
      // Plain JSON: the call belongs to this HTTP exchange, so a client that hangs up cancels it.
      const abandon = () => { for (const m of requests) fastify.calls.cancel(sessionId!, String((m as { id: unknown }).id), 'client disconnected') }
      request.raw.socket.once('close', abandon)
      const responses = (await Promise.all(messages.map((m) => handleRpc(fastify, ctx, m))))
        .filter((r): r is JsonRpcResponse => r !== null)
      request.raw.socket.off('close', abandon)
      return reply.code(200).type('application/json').send(batch ? responses : responses[0])
    }

    // SSE: each response is appended to the session log first, so a client whose POST stream
    // breaks can resume it with GET + Last-Event-ID and lose nothing.
    const raw = startSse(reply)
    await Promise.all(messages.map(async (m) => {
      const response = await handleRpc(fastify, ctx, m)
      if (!response) return
      const data = JSON.stringify(response)
      const id = await fastify.sessions.publish(sessionId!, { event: 'message', data })
      if (!raw.writableEnded && !raw.destroyed) {
        raw.write(formatEvent({ id, event: 'message', data }))
        await fastify.sessions.ack(sessionId!, id)
      }
    })).catch((err: unknown) => ctx.log.error({ err }, 'MCP POST stream failed'))
    raw.end()
  })

  fastify.get('/mcp', { onRequest }, async (request, reply) => {
    const principal = request.principal!
    if (!/text\/event-stream/.test(headerOf(request, 'accept') ?? '')) {
      return reply.code(406).send(rpcError(null, ErrorCodes.invalidRequest, 'GET /mcp needs Accept: text/event-stream'))
    }
    if (protocolVersion(request, reply) === null) return reply
    const sessionId = await sessionOf(request, reply, principal)
    if (sessionId === null) return reply
    const last = headerOf(request, 'last-event-id')
    fastify.streams.serve(reply, {
      sessionId,
      owner: principal.id,
      // Without Last-Event-ID the stream carries only what comes next; with it, a resumed stream
      // replays everything after that id (including responses of a broken POST stream).
      lastEventId: last && last !== '' ? last : await fastify.sessions.head(sessionId),
      key: `mcp:${sessionId}`
    })
  })

  fastify.delete('/mcp', { onRequest }, async (request, reply) => {
    const principal = request.principal!
    const sessionId = await sessionOf(request, reply, principal)
    if (sessionId === null) return reply
    fastify.calls.abortSession(sessionId, 'session deleted')
    fastify.streams.end(`mcp:${sessionId}`, 'session deleted')
    await fastify.sessions.delete(sessionId)
    return reply.code(204).send()
  })
}

export default mcpRoutes
