import type { FastifyInstance } from 'fastify'
import { ErrorCodes, type JsonRpcId, type JsonRpcResponse } from '../../schemas/jsonrpc.js'

/** A JSON-RPC error a method handler throws; the door turns it into its wire's error. */
export class RpcError extends Error {
  override name = 'RpcError'
  readonly code: number
  readonly data: unknown
  /** The HTTP status a door that answers per request (Streamable HTTP) uses, when not 200. */
  readonly httpStatus: number | undefined
  /** HTTP headers to send with it (WWW-Authenticate for insufficient scope). */
  readonly headers: Record<string, string> = {}
  constructor (code: number, message: string, data?: unknown, httpStatus?: number) {
    super(message)
    this.code = code
    this.data = data
    this.httpStatus = httpStatus
  }
}

export function rpcError (id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } }
}

export function rpcResult (id: JsonRpcId, result: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, result }
}

export function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function validId (id: unknown): id is JsonRpcId {
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id))
}

/** A required non-empty string parameter, or -32602 naming it. */
export function requireString (params: Record<string, unknown>, key: string, what: string): string {
  const value = params[key]
  if (typeof value !== 'string' || value === '') throw new RpcError(ErrorCodes.invalidParams, `params.${key} must be ${what}`)
  return value
}

/** Cuts client-chosen text before it is echoed in an error, so an error never amplifies input. */
export function clip (text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}

/**
 * Makes the routes of `fastify` (an encapsulated route plugin) receive bodies as text whatever
 * their content type, so a body that is not JSON is answered as JSON-RPC -32700, not HTTP 400 text.
 */
export function acceptRawBodies (fastify: FastifyInstance, bodyLimit: number): void {
  fastify.removeAllContentTypeParsers()
  const asIs = (_req: unknown, body: string | Buffer, done: (err: null, body: string | Buffer) => void) => done(null, body)
  fastify.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, asIs)
  // The same parser by name for the type every client sends: Fastify caches a parser it finds
  // by type, never the catch-all, which it would otherwise look up by parsing the header anew.
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, asIs)
}

/** The messages of a JSON-RPC body (one message or a batch), or the error to answer with HTTP 400. */
export function parseRpcBody (body: unknown, maxBatch: number): { messages: unknown[], batch: boolean } | { error: JsonRpcResponse } {
  let parsed: unknown
  try {
    parsed = JSON.parse(String(body))
  } catch {
    return { error: rpcError(null, ErrorCodes.parseError, 'body is not valid JSON') }
  }
  const batch = Array.isArray(parsed)
  const messages: unknown[] = batch ? parsed as unknown[] : [parsed]
  if (messages.length === 0) return { error: rpcError(null, ErrorCodes.invalidRequest, 'empty batch') }
  if (messages.length > maxBatch) {
    return { error: rpcError(null, ErrorCodes.invalidRequest, `a batch holds at most ${maxBatch} messages`) }
  }
  return { messages, batch }
}

export type Classified =
  | { kind: 'request', id: JsonRpcId, method: string, params: Record<string, unknown> }
  | { kind: 'notification', method: string, params: Record<string, unknown> }
  | { kind: 'response', id: JsonRpcId, result?: unknown, error?: unknown }
  | { kind: 'invalid', error: JsonRpcResponse }

/** What a client message is. Anything else than a request, notification or response is -32600. */
export function classify (message: unknown): Classified {
  const invalid = (why: string): Classified => ({
    kind: 'invalid',
    error: rpcError(isObject(message) && validId(message.id) ? message.id : null, ErrorCodes.invalidRequest, why)
  })
  if (!isObject(message) || message.jsonrpc !== '2.0') return invalid('not a JSON-RPC 2.0 message')
  const { id, method, params } = message
  if (method === undefined) {
    const hasResult = 'result' in message
    const hasError = 'error' in message
    if (hasResult === hasError) return invalid('a message needs a method, or exactly one of result and error')
    if (!validId(id)) return invalid('a response needs the id of the request it answers')
    return hasResult ? { kind: 'response', id, result: message.result } : { kind: 'response', id, error: message.error }
  }
  if (typeof method !== 'string' || method === '') return invalid('method must be a non-empty string')
  if (params !== undefined && !isObject(params)) return invalid('params must be an object')
  const p = (params ?? {}) as Record<string, unknown>
  if (!('id' in message)) return { kind: 'notification', method, params: p }
  if (!validId(id)) return invalid('id must be a string or an integer')
  return { kind: 'request', id, method, params: p }
}

/** Thrown by a method whose request the client cancelled: the door sends no response for it. */
export class RequestCancelled extends Error {
  override name = 'RequestCancelled'
}
