import { createHash, randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../lib/errors.js'
import type { SessionStore } from '../lib/stores/session-store.js'
import type { Principal } from './auth.js'

/**
 * Short-lived, single-use stream tickets: a browser's EventSource cannot send Authorization, so
 * the page trades its token for a ticket (POST, with the header) and puts the ticket in the
 * /events URL. A ticket opens one stream of one session, for the principal it was issued to.
 *
 * Tickets live in the session store (a value of their session, under the ticket's hash), so a
 * ticket issued by one instance is redeemed by any other behind a load balancer, exactly once.
 */
export function createTickets (store: SessionStore, ttlSeconds: number, maxPerSession = 8) {
  // Unused tickets this instance issued, per session, oldest first. A session holds at most
  // `maxPerSession`: one more retires the oldest. Nothing is refused, so no client's tickets can
  // crowd out another's, and their memory is bounded by the session budget.
  const outstanding = new Map<string, Array<{ key: string, expires: number }>>()
  const live = (sessionId: string) => {
    const now = Date.now()
    const list = (outstanding.get(sessionId) ?? []).filter((t) => t.expires > now)
    if (list.length > 0) outstanding.set(sessionId, list)
    else outstanding.delete(sessionId)
    return list
  }
  // Expired entries of sessions nobody asks about again go too.
  const sweep = setInterval(() => { for (const id of [...outstanding.keys()]) live(id) }, ttlSeconds * 1000)
  sweep.unref()
  const keyOf = (ticket: string) => `ticket:${createHash('sha256').update(ticket).digest('base64url')}`

  return {
    async issue (sessionId: string, principal: Principal): Promise<{ ticket: string, expiresIn: number }> {
      const mine = live(sessionId)
      // 256 random bits: unguessable; only its hash is stored, and nothing a client sent names it.
      const ticket = randomBytes(32).toString('base64url')
      const expires = Date.now() + ttlSeconds * 1000
      const key = keyOf(ticket)
      await store.setValue(sessionId, key, JSON.stringify({ principal, expires }))
      mine.push({ key, expires })
      outstanding.set(sessionId, mine)
      while (mine.length > maxPerSession) await store.takeValue(sessionId, mine.shift()!.key).catch(() => null)
      return { ticket, expiresIn: ttlSeconds }
    },
    /** The principal the ticket was issued to; the ticket is consumed whatever the outcome. */
    async redeem (ticket: string, sessionId: string): Promise<Principal> {
      const refused = () => new AppError(401, 'invalid_ticket', 'ticket is unknown, expired, already used or for another session; request a new one')
      if (!/^[A-Za-z0-9_-]{43}$/.test(ticket)) throw refused()
      const key = keyOf(ticket)
      const found = await store.takeValue(sessionId, key).catch((err: unknown) => {
        if (err instanceof AppError && err.statusCode === 404) return null
        throw err
      })
      if (!found) throw refused()
      const { principal, expires } = JSON.parse(found) as { principal: Principal, expires: number }
      const mine = outstanding.get(sessionId)
      const at = mine?.findIndex((t) => t.key === key) ?? -1
      if (at >= 0) mine!.splice(at, 1)
      if (expires <= Date.now()) throw new AppError(401, 'invalid_ticket', 'ticket has expired; request a new one')
      return principal
    },
    close: () => { clearInterval(sweep); outstanding.clear() }
  }
}

export type Tickets = ReturnType<typeof createTickets>

declare module 'fastify' {
  interface FastifyInstance {
    tickets: Tickets
  }
}

export default fp(async function ticketsPlugin (fastify: FastifyInstance, opts: { ttlSeconds: number, maxPerSession: number }) {
  const tickets = createTickets(fastify.sessions, opts.ttlSeconds, opts.maxPerSession)
  fastify.decorate('tickets', tickets)
  fastify.addHook('onClose', async () => { tickets.close() })
}, { name: 'datapulse-tickets', fastify: '5.x', dependencies: ['datapulse-sessions'] })
