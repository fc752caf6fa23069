import type { FastifyBaseLogger } from 'fastify'
import { AppError } from '../errors.js'
import type { NewEvent, SessionStore } from '../stores/session-store.js'

/**
 * Publishes what answers an accepted request. A store outage is waited out (bounded backoff,
 * up to `resultRetryMs`), since streams wait it out too; a result that still cannot be stored
 * ends the session's streams on this instance, so the client reconnects and knows the request
 * failed instead of waiting on a stream that only pings. The event's id, or null when it was not stored.
 */
export function createDeliver (
  store: SessionStore,
  retryMs: number,
  log: FastifyBaseLogger,
  closing: () => boolean,
  endSession: (sessionId: string, comment?: string) => void
) {
  return async function deliver (sessionId: string, event: NewEvent, requestLog: FastifyBaseLogger = log): Promise<string | null> {
    const deadline = Date.now() + retryMs
    let delay = 50
    for (let attempt = 0; ; attempt++) {
      try {
        const id = await store.publish(sessionId, event)
        if (attempt > 0) requestLog.info({ sessionId, attempts: attempt + 1 }, 'response stored after the session store came back')
        return id
      } catch (err) {
        // The session ended (deleted, expired, its HTTP+SSE stream closed): nobody is left to read it.
        if (err instanceof AppError && err.statusCode === 404) {
          requestLog.debug({ sessionId }, 'session ended before its response was ready; response dropped')
          return null
        }
        if (closing() || Date.now() + delay > deadline) {
          requestLog.error({ err, sessionId }, 'could not store a response; ending the session\'s streams so its client retries')
          endSession(sessionId, 'a response could not be stored; retry the request')
          return null
        }
        if (attempt === 0) requestLog.warn({ err, sessionId }, 'session store unavailable; retrying a response')
        await new Promise((resolve) => setTimeout(resolve, delay))
        delay = Math.min(delay * 2, 1000)
      }
    }
  }
}
