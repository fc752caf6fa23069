import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { RATE_LIMITED } from '../plugins/rate-limit.js'
import { ErrorResponse, MessageQuery } from '../schemas/envelope.js'

const TicketResponse = Type.Object({
  ticket: Type.String(),
  session_id: Type.String(),
  expires_in: Type.Integer({ description: 'seconds' })
})

/** POST /events/ticket: trades the Authorization header for a single-use EventSource ticket. */
const ticketRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/events/ticket', {
    onRequest: fastify.auth.authenticate,
    config: RATE_LIMITED,
    schema: { querystring: MessageQuery, response: { 200: TicketResponse, '4xx': ErrorResponse, '5xx': ErrorResponse } }
  }, async (request) => {
    const principal = request.principal!
    const sessionId = request.query.session_id
    // Claims the session now, so a ticket can never open a session someone else owns.
    await fastify.sessions.open(sessionId, principal.id)
    const { ticket, expiresIn } = await fastify.tickets.issue(sessionId, principal)
    return { ticket, session_id: sessionId, expires_in: expiresIn }
  })
}

export default ticketRoute
