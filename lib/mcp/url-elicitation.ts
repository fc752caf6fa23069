import { randomUUID } from 'node:crypto'
import { isIP } from 'node:net'
import { RpcError } from './rpc.js'
import type { ElicitUrlParams } from './types.js'

/** The JSON-RPC error code of URLElicitationRequiredError (2025-11-25). */
export const URL_ELICITATION_REQUIRED = -32042

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * The URL a URL-mode elicitation may send a user to: https:, or http: on a loopback host while
 * developing. Anything else is the server's own mistake and fails the call, never reaching a client.
 */
export function checkElicitationUrl (url: unknown): string {
  let parsed: URL
  try {
    parsed = new URL(String(url))
  } catch {
    throw new Error('a URL-mode elicitation needs an absolute URL')
  }
  const loopback = LOOPBACK.has(parsed.hostname) || (isIP(parsed.hostname) === 4 && parsed.hostname.startsWith('127.'))
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
    throw new Error(`a URL-mode elicitation must send the user to an https: URL (http: only on loopback), not ${parsed.protocol}//${parsed.hostname}`)
  }
  if (parsed.username || parsed.password) throw new Error('a URL-mode elicitation URL must not carry credentials')
  return parsed.href
}

/** The question as it goes on the wire: 2025 names the interaction, 2026 correlates by requestState. */
export function urlQuestion (params: ElicitUrlParams, era: '2025' | '2026'): Record<string, unknown> {
  const question: Record<string, unknown> = { mode: 'url', message: params.message, url: checkElicitationUrl(params.url) }
  if (era === '2025') question.elicitationId = params.elicitationId ?? randomUUID()
  return question
}

/**
 * Thrown by a handler that cannot go on until the user has been somewhere (2025-11-25,
 * URLElicitationRequiredError): the request ends with -32042 listing the URL-mode elicitations
 * to complete before retrying it.
 */
export class UrlElicitationRequiredError extends RpcError {
  constructor (elicitations: Array<Omit<ElicitUrlParams, 'mode'>>, message = 'This request needs the user to complete an interaction at a URL first') {
    super(URL_ELICITATION_REQUIRED, message, {
      elicitations: elicitations.map((e) => ({ mode: 'url', message: e.message, url: checkElicitationUrl(e.url), elicitationId: e.elicitationId ?? randomUUID() }))
    })
  }
}

/**
 * Which session a 2025-era URL-mode elicitation was sent to, in the store (any instance may
 * learn that the interaction is complete: the user's browser reaches whichever one), so that
 * `complete(id)` sends that session `notifications/elicitation/complete`.
 */
export function createUrlElicitations (store: { getRecord (key: string): Promise<{ value: string, version: number } | null>, putRecord (key: string, value: string, version: number, ttlMs: number): Promise<boolean>, publish (sessionId: string, event: { event: string, data: string }): Promise<string> }, ttlMs: number) {
  const key = (id: string) => `elicitation:${id}`
  return {
    async register (elicitationId: string, sessionId: string): Promise<void> {
      await store.putRecord(key(elicitationId), sessionId, 0, ttlMs)
    },
    /** Tells the session that asked that the interaction `elicitationId` is done; false if unknown or done already. */
    async complete (elicitationId: string): Promise<boolean> {
      const found = await store.getRecord(key(elicitationId))
      if (!found || found.value === '') return false
      if (!await store.putRecord(key(elicitationId), '', found.version, 60_000)) return false
      const notification = { jsonrpc: '2.0', method: 'notifications/elicitation/complete', params: { elicitationId } }
      try {
        await store.publish(found.value, { event: 'message', data: JSON.stringify(notification) })
      } catch {
        return false // the session ended meanwhile
      }
      return true
    }
  }
}

export type UrlElicitations = ReturnType<typeof createUrlElicitations>
