import { createHmac, timingSafeEqual } from 'node:crypto'
import { ErrorCodes } from '../../schemas/jsonrpc.js'
import { RpcError } from './rpc.js'

/** What one round of a multi-round-trip request hands to the next. */
export interface RoundState {
  /** Who started the request: a state is never continued by another principal. */
  principal: string
  /** The request it belongs to: method and name (tool, prompt) or URI. */
  request: string
  /** Answers collected in earlier rounds, by input-request key. */
  answers: Record<string, unknown>
  /** Expiry, ms since the epoch. */
  expires: number
}

const MAX_STATE_CHARS = 64 * 1024

/**
 * `requestState` for 2026-07-28 `input_required` results: the round's state in the clear, sealed
 * with an HMAC under a key every instance shares, so any instance can continue a request and a
 * client cannot change or forge one. Answers are the client's own, so clear text leaks nothing.
 */
export function createRequestStates (key: () => Promise<string>, ttlMs: number) {
  const mac = async (body: string) => createHmac('sha256', await key()).update(body).digest('base64url')

  return {
    async seal (state: Omit<RoundState, 'expires'>): Promise<string> {
      const body = Buffer.from(JSON.stringify({ ...state, expires: Date.now() + ttlMs })).toString('base64url')
      return `${body}.${await mac(body)}`
    },

    /** Opens a state the client echoed; anything tampered, foreign or expired is -32602. */
    async open (sealed: unknown, principal: string, request: string): Promise<RoundState> {
      const invalid = (why: string) => new RpcError(ErrorCodes.invalidParams, `requestState is not valid: ${why}`)
      if (typeof sealed !== 'string' || sealed.length > MAX_STATE_CHARS) throw invalid('not a state this server issued')
      const dot = sealed.lastIndexOf('.')
      const body = sealed.slice(0, dot)
      const given = Buffer.from(sealed.slice(dot + 1))
      const expected = Buffer.from(await mac(body))
      if (dot < 1 || given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('integrity check failed')
      const state = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as RoundState
      if (state.principal !== principal || state.request !== request) throw invalid('it belongs to another request')
      if (state.expires < Date.now()) throw invalid('it has expired; start the request again')
      return state
    }
  }
}

export type RequestStates = ReturnType<typeof createRequestStates>
