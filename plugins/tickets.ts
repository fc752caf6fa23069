import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../lib/errors.js'
import type { Principal } from './auth.js'

interface Ticket {
  sessionId: string
  principal: Principal
  expires: number
}

/**
 * Short-lived, single-use stream tickets: a browser's EventSource cannot send Authorization, so
 * the page trades its token for a ticket (POST, with the header) and puts the ticket in the
 * /events URL. A ticket opens one stream of one session, for the principal it was issued to.
 */
export function createTickets (ttlSeconds: number) {
  const tickets = new Map<string, Ticket>()
  const sweep = setInterval(() => {
    const now = Date.now()
    for (const [value, t] of tickets) if (t.expires <= now) tickets.delete(value)
  }, Math.min(ttlSeconds * 1000, 30_000))
  sweep.unref()

  return {
    issue (sessionId: string, principal: Principal): { ticket: string, expiresIn: number } {
      // 256 random bits: unguessable, and the map key is never derived from anything a client sent.
      const ticket = randomBytes(32).toString('base64url')
      tickets.set(ticket, { sessionId, principal, expires: Date.now() + ttlSeconds * 1000 })
      return { ticket, expiresIn: ttlSeconds }
    },
    /** The principal the ticket was issued to; the ticket is consumed whatever the outcome. */
    redeem (ticket: string, sessionId: string): Principal {
      const found = tickets.get(ticket)
      tickets.delete(ticket)
      if (!found || found.expires <= Date.now()) {
        throw new AppError(401, 'invalid_ticket', 'ticket is unknown, expired or already used; request a new one')
      }
      if (found.sessionId !== sessionId) throw new AppError(401, 'invalid_ticket', 'ticket was issued for another session')
      return found.principal
    },
    close: () => { clearInterval(sweep); tickets.clear() }
  }
}

export type Tickets = ReturnType<typeof createTickets>

declare module 'fastify' {
  interface FastifyInstance {
    tickets: Tickets
  }
}

export default fp(async function ticketsPlugin (fastify: FastifyInstance, opts: { ttlSeconds: number }) {
  const tickets = createTickets(opts.ttlSeconds)
  fastify.decorate('tickets', tickets)
  fastify.addHook('onClose', async () => { tickets.close() })
}, { name: 'datapulse-tickets', fastify: '5.x' })
