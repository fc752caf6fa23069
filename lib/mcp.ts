import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { AppError } from './errors.js'
import { packageInfo } from './package-info.js'
import { ToolError } from './tool.js'
import type { Principal } from '../plugins/auth.js'
import { ErrorCodes, PROTOCOL_VERSIONS, type JsonRpcId, type JsonRpcResponse } from '../schemas/jsonrpc.js'

export interface McpContext {
  sessionId: string
  principal: Principal
  log: FastifyBaseLogger
}

const PAGE_SIZE = 100

export function rpcError (id: JsonRpcId | null, code: number, message: string): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: { code, message } }
}

function rpcResult (id: JsonRpcId, result: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, result }
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function validId (id: unknown): id is JsonRpcId {
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id))
}

/**
 * Makes the routes of `fastify` (an encapsulated route plugin) receive bodies as text whatever
 * their content type, so a body that is not JSON is answered as JSON-RPC -32700, not HTTP 400 text.
 */
export function acceptRawBodies (fastify: FastifyInstance, bodyLimit: number): void {
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_req, body, done) => done(null, body))
}

/** The messages of a JSON-RPC body (one message or a batch), or the error to answer with HTTP 400. */
export function parseRpcBody (body: unknown): { messages: unknown[], batch: boolean } | { error: JsonRpcResponse } {
  let parsed: unknown
  try {
    parsed = JSON.parse(String(body))
  } catch {
    return { error: rpcError(null, ErrorCodes.parseError, 'body is not valid JSON') }
  }
  const batch = Array.isArray(parsed)
  const messages: unknown[] = batch ? parsed as unknown[] : [parsed]
  if (messages.length === 0) return { error: rpcError(null, ErrorCodes.invalidRequest, 'empty batch') }
  return { messages, batch }
}

/** True for a message that expects an answer (a request, not a notification or a response). */
export function isRequest (message: unknown): boolean {
  return isObject(message) && typeof message.method === 'string' && 'id' in message
}

function toolResult (value: unknown) {
  if (isObject(value)) return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value }
  return { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value ?? null) }] }
}

async function callTool (app: FastifyInstance, ctx: McpContext, id: JsonRpcId, params: Record<string, unknown>) {
  const { name, arguments: args } = params
  if (typeof name !== 'string' || name === '') return rpcError(id, ErrorCodes.invalidParams, 'params.name must be a tool name')
  if (args !== undefined && !isObject(args)) return rpcError(id, ErrorCodes.invalidParams, 'params.arguments must be an object')
  let running: Promise<unknown>
  try {
    running = app.calls.start(ctx.sessionId, String(id), ({ signal }) =>
      app.tools.call(name, args ?? {}, { principal: ctx.principal, sessionId: ctx.sessionId, signal, log: ctx.log }))
  } catch (err) {
    if (err instanceof AppError) return rpcError(id, ErrorCodes.overloaded, err.message)
    throw err
  }
  try {
    return rpcResult(id, toolResult(await running))
  } catch (err) {
    // Unknown tools and bad arguments are the caller's mistake (JSON-RPC error); a tool that
    // fails is a result the model should see (isError), per the MCP tools spec.
    if (err instanceof ToolError && (err.code === 'unknown_tool' || err.code === 'invalid_arguments')) {
      return rpcError(id, ErrorCodes.invalidParams, err.message)
    }
    const text = err instanceof Error ? err.message : String(err)
    if (!(err instanceof ToolError)) ctx.log.warn({ err }, 'tool call failed')
    return rpcResult(id, { content: [{ type: 'text', text }], isError: true })
  }
}

function listTools (app: FastifyInstance, id: JsonRpcId, params: Record<string, unknown>) {
  const all = app.tools.list()
  let start = 0
  if (params.cursor !== undefined) {
    start = typeof params.cursor === 'string' && /^\d+$/.test(params.cursor) ? Number(params.cursor) : -1
    if (start < 0 || start > all.length) return rpcError(id, ErrorCodes.invalidParams, 'invalid cursor')
  }
  const page = all.slice(start, start + PAGE_SIZE)
  const result: Record<string, unknown> = { tools: page }
  if (start + PAGE_SIZE < all.length) result.nextCursor = String(start + PAGE_SIZE)
  return rpcResult(id, result)
}

/**
 * Handles one JSON-RPC message from a client. Returns the response for a request, null for a
 * notification or a client's response. Never throws: internal faults become -32603.
 */
export async function handleRpc (app: FastifyInstance, ctx: McpContext, message: unknown): Promise<JsonRpcResponse | null> {
  if (!isObject(message) || message.jsonrpc !== '2.0') {
    const id = isObject(message) && validId(message.id) ? message.id : null
    return rpcError(id, ErrorCodes.invalidRequest, 'not a JSON-RPC 2.0 message')
  }
  const { id, method } = message
  if (typeof method !== 'string') {
    // A response from the client (we send no requests, so there is nothing to match it to).
    if ('result' in message || 'error' in message) return null
    return rpcError(validId(id) ? id : null, ErrorCodes.invalidRequest, 'method must be a string')
  }
  if (message.params !== undefined && !isObject(message.params)) {
    return 'id' in message ? rpcError(validId(id) ? id : null, ErrorCodes.invalidRequest, 'params must be an object') : null
  }
  const params = (message.params ?? {}) as Record<string, unknown>
  if (!('id' in message)) {
    if (method === 'notifications/cancelled' && (typeof params.requestId === 'string' || typeof params.requestId === 'number')) {
      app.calls.cancel(ctx.sessionId, String(params.requestId), typeof params.reason === 'string' ? params.reason : undefined)
    }
    return null
  }
  if (!validId(id)) return rpcError(null, ErrorCodes.invalidRequest, 'id must be a string or an integer')
  try {
    switch (method) {
      case 'initialize': {
        const asked = params.protocolVersion
        const version = (PROTOCOL_VERSIONS as readonly unknown[]).includes(asked) ? asked : PROTOCOL_VERSIONS[0]
        return rpcResult(id, {
          protocolVersion: version,
          capabilities: { tools: { listChanged: false } },
          serverInfo: { name: packageInfo.name, version: packageInfo.version }
        })
      }
      case 'ping': return rpcResult(id, {})
      case 'tools/list': return listTools(app, id, params)
      case 'tools/call': return await callTool(app, ctx, id, params)
      default: return rpcError(id, ErrorCodes.methodNotFound, `method "${method}" is not supported`)
    }
  } catch (err) {
    ctx.log.error({ err, method }, 'JSON-RPC handler failed')
    return rpcError(id, ErrorCodes.internalError, 'internal error')
  }
}
