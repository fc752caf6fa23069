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
export function createTickets (ttlSeconds: number, maxPerPrincipal = 32) {
  const tickets = new Map<string, Ticket>()
  // Outstanding tickets per principal: issuing is cheap for a client, memory is not for us.
  const outstanding = new Map<string, number>()
  const drop = (value: string, t: Ticket) => {
    tickets.delete(value)
    const n = (outstanding.get(t.principal.id) ?? 1) - 1
    if (n > 0) outstanding.set(t.principal.id, n)
    else outstanding.delete(t.principal.id)
  }
  const sweep = setInterval(() => {
    const now = Date.now()
    for (const [value, t] of tickets) if (t.expires <= now) drop(value, t)
  }, Math.min(ttlSeconds * 1000, 30_000))
  sweep.unref()

  return {
    issue (sessionId: string, principal: Principal): { ticket: string, expiresIn: number } {
      const mine = outstanding.get(principal.id) ?? 0
      if (mine >= maxPerPrincipal) {
        throw new AppError(429, 'too_many_tickets', `at most ${maxPerPrincipal} unused tickets per principal; use or let some expire`)
      }
      // 256 random bits: unguessable, and the map key is never derived from anything a client sent.
      const ticket = randomBytes(32).toString('base64url')
      tickets.set(ticket, { sessionId, principal, expires: Date.now() + ttlSeconds * 1000 })
      outstanding.set(principal.id, mine + 1)
      return { ticket, expiresIn: ttlSeconds }
    },
    /** The principal the ticket was issued to; the ticket is consumed whatever the outcome. */
    redeem (ticket: string, sessionId: string): Principal {
      const found = tickets.get(ticket)
      if (found) drop(ticket, found)
      if (!found || found.expires <= Date.now()) {
        throw new AppError(401, 'invalid_ticket', 'ticket is unknown, expired or already used; request a new one')
      }
      if (found.sessionId !== sessionId) throw new AppError(401, 'invalid_ticket', 'ticket was issued for another session')
      return found.principal
    },
    close: () => { clearInterval(sweep); tickets.clear(); outstanding.clear() }
  }
}

export type Tickets = ReturnType<typeof createTickets>

declare module 'fastify' {
  interface FastifyInstance {
    tickets: Tickets
  }
}

export default fp(async function ticketsPlugin (fastify: FastifyInstance, opts: { ttlSeconds: number, maxPerPrincipal: number }) {
  const tickets = createTickets(opts.ttlSeconds, opts.maxPerPrincipal)
  fastify.decorate('tickets', tickets)
  fastify.addHook('onClose', async () => { tickets.close() })
}, { name: 'datapulse-tickets', fastify: '5.x' })
