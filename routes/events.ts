import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorFrame } from '../lib/envelope.js'
import { AppError } from '../lib/errors.js'
import { EVENT_ID } from '../plugins/streams.js'
import { RATE_LIMITED } from '../plugins/rate-limit.js'
import { ErrorResponse, EventsQuery } from '../schemas/envelope.js'

// One function for every stream, not a closure each: an idle stream's bytes count.
const framesDropped = () => ({
  data: errorFrame(null, 'frames_dropped',
    'some frames for this session were dropped by the retention limit before this stream could deliver them')
})

/** GET /events: the envelope's SSE stream for one client-chosen session. */
const eventsRoute: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/events', {
    schema: {
      querystring: EventsQuery,
      response: { '4xx': ErrorResponse, '5xx': ErrorResponse }
    },
    // EventSource cannot send Authorization: a ticket from POST /events/ticket stands in for it.
    config: RATE_LIMITED,
    onRequest: (request, reply, done) => {
      const { ticket, session_id: sessionId } = request.query as { ticket?: string, session_id?: string }
      if (ticket === undefined) return fastify.auth.authenticate(request, reply, done)
      fastify.tickets.redeem(String(ticket), String(sessionId)).then((principal) => {
        request.principal = principal
        done()
      }, done)
    }
  }, async (request, reply) => {
    const sessionId = request.query.session_id
    const principal = request.principal!
    await fastify.sessions.open(sessionId, principal.id)
    const header = request.headers['last-event-id']
    const lastEventId = (typeof header === 'string' && header !== '' ? header : request.query.last_event_id) || null
    if (lastEventId !== null && !EVENT_ID.test(lastEventId)) {
      throw new AppError(400, 'invalid_last_event_id', 'Last-Event-ID must be an event id this server sent')
    }
    fastify.streams.serve(reply, {
      sessionId,
      owner: principal.id,
      expiresAt: principal.expiresAt,
      lastEventId,
      gapFrame: framesDropped
    })
  })
}

export default eventsRoute
