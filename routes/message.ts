import { lazyChild } from '../lib/logging/log.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AppError } from '../lib/errors.js'
import { scopeRefusal } from '../lib/security/scopes.js'
import { RATE_LIMITED } from '../plugins/rate-limit.js'
import { answerEnvelope, envelopeTaskOwner, taskFrame } from '../lib/envelope.js'
import { RpcError } from '../lib/mcp/rpc.js'
import { TASK_KEY } from '../lib/mcp/task-runner.js'
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
      // The same step-up as tools/call: the envelope is no way around a tool's scopes.
      const refusal = scopeRefusal(fastify.tools.get(name)?.scopes, principal)
      if (refusal) throw new AppError(403, 'insufficient_scope', `insufficient scope: this needs ${refusal.scope}`, { 'www-authenticate': refusal.header })
    }
    // Opening here lets results queue before any stream exists for the session.
    await fastify.sessions.open(sessionId, principal.id)
    const log = lazyChild(request.log, { sessionId, requestId: message.request_id })
    const req = { sessionId, principal, log, headers: request.headers }
    if (message.type === 'call_tool' && message.task === true) {
      // A task exists in the store before the client hears of it; its call outlives the session's slots.
      const name = message.data!.name as string
      if (!fastify.tools.get(name)?.execution) throw new AppError(400, 'not_a_task', `tool "${name.slice(0, 64)}" does not run as a task`)
      let run
      try {
        run = await fastify.mcp.taskRunner.open(envelopeTaskOwner(principal, sessionId), name)
      } catch (err) {
        if (err instanceof RpcError) throw new AppError(503, 'too_many_tasks', err.message, { 'retry-after': '1' })
        throw err
      }
      await fastify.streams.deliver(sessionId, { data: taskFrame(message.request_id, run.task) }, log)
      const taskId = run.task.taskId
      const done = fastify.calls.start(`${TASK_KEY}${taskId}`, taskId, (handle) => {
        run.line = handle
        return answerEnvelope(fastify, req, message, handle, run)
      })
      done.catch((err: unknown) => log.error({ err }, 'envelope task failed'))
      return reply.code(202).send({ status: 'accepted', request_id: message.request_id, task_id: taskId })
    }
    const done = fastify.calls.start(sessionId, message.request_id, (handle) => answerEnvelope(fastify, req, message, handle))
    done.catch((err: unknown) => log.error({ err }, 'envelope request failed'))
    return reply.code(202).send({ status: 'accepted', request_id: message.request_id })
  })
}

export default messageRoute
