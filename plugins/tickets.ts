import { createHash, randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../lib/errors.js'
import type { SessionStore } from '../lib/session-store.js'
import type { Principal } from './auth.js'

/**
 * Short-lived, single-use stream tickets: a browser's EventSource cannot send Authorization, so
 * the page trades its token for a ticket (POST, with the header) and puts the ticket in the
 * /events URL. A ticket opens one stream of one session, for the principal it was issued to.
 *
 * Tickets live in the session store (a value of their session, under the ticket's hash), so a
 * ticket issued by one instance is redeemed by any other behind a load balancer, exactly once.
 */
export function createTickets (store: SessionStore, ttlSeconds: number, maxPerPrincipal = 32) {
  // Unused tickets this instance issued, per principal, with their expiry: issuing is cheap for a
  // client, so it is capped.
  const outstanding = new Map<string, number[]>()
  const live = (principal: string): number[] => {
    const now = Date.now()
    const list = (outstanding.get(principal) ?? []).filter((expires) => expires > now)
    if (list.length > 0) outstanding.set(principal, list)
    else outstanding.delete(principal)
    return list
  }
  const keyOf = (ticket: string) => `ticket:${createHash('sha256').update(ticket).digest('base64url')}`

  return {
    async issue (sessionId: string, principal: Principal): Promise<{ ticket: string, expiresIn: number }> {
      const mine = live(principal.id)
      if (mine.length >= maxPerPrincipal) {
        throw new AppError(429, 'too_many_tickets', `at most ${maxPerPrincipal} unused tickets per principal; use or let some expire`)
      }
      // 256 random bits: unguessable; only its hash is stored, and nothing a client sent names it.
      const ticket = randomBytes(32).toString('base64url')
      const expires = Date.now() + ttlSeconds * 1000
      await store.setValue(sessionId, keyOf(ticket), JSON.stringify({ principal, expires }))
      outstanding.set(principal.id, [...mine, expires])
      return { ticket, expiresIn: ttlSeconds }
    },
    /** The principal the ticket was issued to; the ticket is consumed whatever the outcome. */
    async redeem (ticket: string, sessionId: string): Promise<Principal> {
      const refused = () => new AppError(401, 'invalid_ticket', 'ticket is unknown, expired, already used or for another session; request a new one')
      if (!/^[A-Za-z0-9_-]{43}$/.test(ticket)) throw refused()
      const found = await store.takeValue(sessionId, keyOf(ticket)).catch((err: unknown) => {
        if (err instanceof AppError && err.statusCode === 404) return null
        throw err
      })
      if (!found) throw refused()
      const { principal, expires } = JSON.parse(found) as { principal: Principal, expires: number }
      const mine = outstanding.get(principal.id)
      if (mine) mine.splice(mine.indexOf(expires) >>> 0, 1)
      if (expires <= Date.now()) throw new AppError(401, 'invalid_ticket', 'ticket has expired; request a new one')
      return principal
    },
    close: () => { outstanding.clear() }
  }
}

export type Tickets = ReturnType<typeof createTickets>

declare module 'fastify' {
  interface FastifyInstance {
    tickets: Tickets
  }
}

export default fp(async function ticketsPlugin (fastify: FastifyInstance, opts: { ttlSeconds: number, maxPerPrincipal: number }) {
  const tickets = createTickets(fastify.sessions, opts.ttlSeconds, opts.maxPerPrincipal)
  fastify.decorate('tickets', tickets)
  fastify.addHook('onClose', async () => { tickets.close() })
}, { name: 'datapulse-tickets', fastify: '5.x', dependencies: ['datapulse-sessions'] })
