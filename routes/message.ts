import { lazyChild } from '../lib/logging/log.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AppError } from '../lib/errors.js'
import { RATE_LIMITED } from '../plugins/rate-limit.js'
import { answerEnvelope } from '../lib/envelope.js'
import { Accepted, ErrorResponse, MCPRequest, MessageQuery } from '../schemas/envelope.js'

/** POST /message: accepts an envelope request (202) and answers it later on the session's stream. */
const messageRoute: FastifyPluginAsyncTypebox<{ bodyLimit: number }> = async (fastify, opts) => {
  fastify.post('/message', {
    config: RATE_LIMITED,
    bodyLimit: opts.bodyLimit,
    schema: {
      querystring: MessageQuery,
      body: MCPRequest,
      response: { 202: Accepted, '4xx': ErrorResponse, '5xx': ErrorResponse }
    },
    onRequest: fastify.auth.authenticate
  }, async (request, reply) => {
    const sessionId = request.query.session_id
    const principal = request.principal!
    const message = request.body
    if (message.type === 'call_tool') {
      const name = message.data?.name
      if (typeof name !== 'string' || name === '') {
        throw new AppError(400, 'invalid_request', 'body/data/name must be the name of the tool to call')
      }
    }
    // Opening here lets results queue before any stream exists for the session.
    await fastify.sessions.open(sessionId, principal.id)
    const log = lazyChild(request.log, { sessionId, requestId: message.request_id })
    const done = fastify.calls.start(sessionId, message.request_id, (handle) =>
      answerEnvelope(fastify, { sessionId, principal, log, headers: request.headers }, message, handle))
    done.catch((err: unknown) => log.error({ err }, 'envelope request failed'))
    return reply.code(202).send({ status: 'accepted', request_id: message.request_id })
  })
}

export default messageRoute
