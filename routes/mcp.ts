import { lazyChild } from '../lib/logging/log.js'
import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { acceptClientMessage, initializeSession, mcpGapNotice, progressTokenOf, sessionScope } from '../lib/mcp/session.js'
import { createExchange, STREAM_ID_SEPARATOR } from '../lib/mcp/post-exchange.js'
import { answerModern, isModern } from '../lib/mcp/modern.js'
import { acceptRawBodies, classify, parseRpcBody, RequestCancelled, rpcError, rpcResult, RpcError, type Classified } from '../lib/mcp/rpc.js'
import { RATE_LIMITED } from '../plugins/rate-limit.js'
import type { Principal } from '../plugins/auth.js'
import { DEFAULT_HTTP_VERSION, ErrorCodes, STREAMABLE_VERSIONS, type JsonRpcResponse } from '../schemas/jsonrpc.js'
import type { McpRouteOptions } from './sse.js'
import { EVENT_ID } from '../plugins/streams.js'

const SESSION_HEADER = 'mcp-session-id'

function headerOf (request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

type Request = Extract<Classified, { kind: 'request' }>

/**
 * MCP Streamable HTTP (protocol 2025-03-26 … 2025-11-25) on one endpoint, /mcp: POST carries
 * client messages, GET opens the stream for messages that belong to no request, DELETE ends
 * the session. Each POST's answer travels on that POST alone (JSON or its own SSE stream).
 */
const mcpRoutes: FastifyPluginAsync<McpRouteOptions> = async (fastify, opts) => {
  acceptRawBodies(fastify, opts.bodyLimit)

  /** Checks MCP-Protocol-Version; answers 400 itself and returns null when unsupported. */
  function protocolVersion (request: FastifyRequest, reply: FastifyReply): string | null {
    const version = headerOf(request, 'mcp-protocol-version') ?? DEFAULT_HTTP_VERSION
    if ((STREAMABLE_VERSIONS as readonly string[]).includes(version)) return version
    reply.code(400).send(rpcError(null, ErrorCodes.invalidRequest,
      `unsupported MCP-Protocol-Version "${version.slice(0, 32)}"; supported: ${STREAMABLE_VERSIONS.join(', ')}`))
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
      reply.code(404).send(rpcError(null, ErrorCodes.sessionNotFound, 'session not found or expired; initialize a new one'))
      return null
    }
    await fastify.sessions.open(sessionId, principal.id)
    return sessionId
  }

  const onRequest = fastify.auth.authenticate

  async function initialize (request: FastifyRequest, reply: FastifyReply, principal: Principal, message: Request) {
    const sessionId = randomUUID()
    await fastify.sessions.open(sessionId, principal.id)
    try {
      const result = await initializeSession(fastify, sessionId, message.params, STREAMABLE_VERSIONS)
      reply.header(SESSION_HEADER, sessionId)
      return reply.code(200).type('application/json').send(rpcResult(message.id, result))
    } catch (err) {
      await fastify.sessions.delete(sessionId)
      if (err instanceof RpcError) return reply.code(400).send(rpcError(message.id, err.code, err.message))
      throw err
    }
  }

  fastify.post<{ Body: string }>('/mcp', { onRequest, bodyLimit: opts.bodyLimit, config: RATE_LIMITED }, async (request, reply) => {
    const principal = request.principal!
    const accept = headerOf(request, 'accept') ?? ''
    const canStream = /text\/event-stream|\*\/\*/.test(accept)
    if (!/application\/json|\*\/\*/.test(accept)) {
      return reply.code(406).send(rpcError(null, ErrorCodes.invalidRequest, 'Accept must include application/json and text/event-stream'))
    }
    const parsed = parseRpcBody(request.body, opts.maxBatch)
    if ('error' in parsed) return reply.code(400).send(parsed.error)
    // The era is decided once, here: the stateless revision or the 2025 session protocol.
    if (isModern(request.headers, parsed.batch ? parsed.messages : parsed.messages[0])) {
      return answerModern(fastify, request, reply, parsed.batch ? parsed.messages : parsed.messages[0], opts)
    }
    const version = protocolVersion(request, reply)
    if (version === null) return reply
    const { batch } = parsed
    // JSON-RPC batches exist only in protocol 2025-03-26; later versions removed them.
    if (batch && version !== '2025-03-26') {
      return reply.code(400).send(rpcError(null, ErrorCodes.invalidRequest, `batches are not supported in protocol ${version}`))
    }
    const messages = parsed.messages.map(classify)
    const invalid = messages.filter((m) => m.kind === 'invalid').map((m) => (m as { error: JsonRpcResponse }).error)
    const requests = messages.filter((m): m is Request => m.kind === 'request')

    const init = requests.find((m) => m.method === 'initialize')
    if (init) {
      if (messages.length > 1) return reply.code(400).send(rpcError(null, ErrorCodes.invalidRequest, 'initialize must be sent alone'))
      return initialize(request, reply, principal, init)
    }
    const sessionId = await sessionOf(request, reply, principal)
    if (sessionId === null) return reply

    for (const m of messages) {
      if (m.kind !== 'notification' && m.kind !== 'response') continue
      try {
        await acceptClientMessage(fastify, sessionId, m)
      } catch (err) {
        if (!(err instanceof RpcError)) throw err
        invalid.push(rpcError(null, err.code, err.message))
      }
    }
    if (requests.length === 0) {
      if (invalid.length > 0) return reply.code(400).send(batch ? invalid : invalid[0])
      return reply.code(202).send()
    }

    const exchange = createExchange(fastify, reply, { sessionId, owner: principal.id, expiresAt: principal.expiresAt, canStream, jsonWindowMs: opts.jsonWindowMs })
    const log = lazyChild(request.log, { sessionId })
    const scope = sessionScope(fastify, sessionId)
    const channel = exchange.channel()
    let refused: RpcError | undefined
    const answer = async (m: Request): Promise<JsonRpcResponse | null> => {
      const mc = {
        app: fastify, era: '2025' as const, requestId: m.id, principal, sessionId, log, channel, headers: request.headers,
        lifeline: exchange.lifeline, progressToken: progressTokenOf(m.params), ...scope
      }
      try {
        return rpcResult(m.id, await fastify.mcp.dispatch(mc, m.method, m.params))
      } catch (err) {
        if (err instanceof RequestCancelled) return null
        if (err instanceof RpcError) {
          // Insufficient scope is an HTTP answer (403 + WWW-Authenticate) so clients can step up.
          if (err.httpStatus === 403) refused = err
          return rpcError(m.id, err.code, err.message, err.data)
        }
        log.error({ err, method: m.method }, 'MCP request failed')
        return rpcError(m.id, ErrorCodes.internalError, 'internal error')
      }
    }
    const onClose = () => exchange.abandon()
    request.raw.socket.once('close', onClose)
    const all = Promise.all(requests.map(answer)).then(async (answers) => {
      request.raw.socket.off('close', onClose)
      const responses = [...invalid, ...answers.filter((r): r is JsonRpcResponse => r !== null)]
      return exchange.finish(responses)
    })
    const streaming = await Promise.race([exchange.start(), all.then(() => false)])
    if (streaming) {
      all.catch((err: unknown) => log.error({ err }, 'MCP POST stream failed'))
      return reply
    }
    const responses = await all
    if (!responses || responses.length === 0) return reply.code(202).send()
    if (refused && !batch) reply.code(403).headers(refused.headers)
    else reply.code(200)
    return reply.type('application/json').send(batch ? responses : responses[0])
  })

  fastify.get('/mcp', { onRequest, config: RATE_LIMITED }, async (request, reply) => {
    const principal = request.principal!
    if (!/text\/event-stream/.test(headerOf(request, 'accept') ?? '')) {
      return reply.code(406).send(rpcError(null, ErrorCodes.invalidRequest, 'GET /mcp needs Accept: text/event-stream'))
    }
    if (protocolVersion(request, reply) === null) return reply
    const last = headerOf(request, 'last-event-id')
    const cut = last ? last.indexOf(STREAM_ID_SEPARATOR) : -1
    if (last && !EVENT_ID.test(cut > 0 ? last.slice(cut + 1) : last)) {
      return reply.code(400).send(rpcError(null, ErrorCodes.invalidRequest, 'Last-Event-ID must be an event id this server sent'))
    }
    const sessionId = await sessionOf(request, reply, principal)
    if (sessionId === null) return reply
    if (last && cut > 0) {
      // An id from a POST's stream resumes that stream and nothing else.
      const tag = last.slice(0, cut)
      const prefix = `${tag}${STREAM_ID_SEPARATOR}`
      fastify.streams.serve(reply, {
        sessionId, owner: principal.id, expiresAt: principal.expiresAt, lastEventId: last.slice(cut + 1), stream: tag, idPrefix: prefix, key: `mcp:${sessionId}:${tag}`, gapFrame: mcpGapNotice
      })
      return reply
    }
    fastify.streams.serve(reply, {
      sessionId,
      owner: principal.id,
      expiresAt: principal.expiresAt,
      // Without Last-Event-ID the stream carries only what comes next.
      lastEventId: last && last !== '' ? last : await fastify.sessions.head(sessionId),
      key: `mcp:${sessionId}`,
      gapFrame: mcpGapNotice
    })
    return reply
  })

  fastify.delete('/mcp', { onRequest, config: RATE_LIMITED }, async (request, reply) => {
    const principal = request.principal!
    const sessionId = await sessionOf(request, reply, principal)
    if (sessionId === null) return reply
    fastify.calls.abortSession(sessionId, 'session deleted')
    fastify.streams.endSession(sessionId, 'session deleted')
    await fastify.sessions.delete(sessionId)
    return reply.code(204).send()
  })
}

export default mcpRoutes
