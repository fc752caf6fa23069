import { lazyChild } from '../logging/log.js'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { packageInfo } from '../package-info.js'
import { startSse } from '../http/sse.js'
import type { Channel } from './context.js'
import type { MethodContext } from './methods.js'
import { serverExtensions, SESSION_METHODS } from './methods.js'
import { progressTokenOf } from './session.js'
import { classify, clip, isObject, RequestCancelled, rpcError, rpcResult, RpcError } from './rpc.js'
import { LOG_LEVELS, type LogLevel } from './types.js'
import { ErrorCodes, STREAMABLE_VERSIONS, type JsonRpcId } from '../../schemas/jsonrpc.js'
import { Lifeline } from '../lifeline.js'
import { tasksDeclared } from './tasks.js'

/** The stateless revisions /mcp speaks, newest first. */
export const MODERN_VERSIONS = ['2026-07-28'] as const

export const META = {
  version: 'io.modelcontextprotocol/protocolVersion',
  capabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId'
} as const

/**
 * Decides, once and at the door, whether a POST to /mcp speaks the stateless revision: its body
 * claims a protocol version in `_meta`, or its MCP-Protocol-Version header names 2026-07-28 or
 * later. Everything else (initialize, session ids, GET, DELETE) is the 2025 era.
 */
export function isModern (headers: Record<string, unknown>, body: unknown): boolean {
  const header = headers['mcp-protocol-version']
  if (typeof header === 'string' && /^\d{4}-\d\d-\d\d$/.test(header) && header >= MODERN_VERSIONS[MODERN_VERSIONS.length - 1]) return true
  return isObject(body) && isObject(body.params) && isObject(body.params._meta) && META.version in body.params._meta
}

/** Results a client may cache, with the hints 2026-07-28 requires on them. */
const CACHEABLE = new Set(['server/discover', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read'])
/** The requests that may answer `input_required`. */
const ROUND_TRIP = new Set(['tools/call', 'prompts/get', 'resources/read'])
/** Where Mcp-Name's value lives in the body. */
const NAME_PARAM: Record<string, string> = {
  'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri', 'tasks/get': 'taskId', 'tasks/update': 'taskId', 'tasks/cancel': 'taskId'
}

/** A question the handler asked that this round cannot answer: the request ends as input_required. */
export class InputRequired extends RpcError {
  constructor () { super(ErrorCodes.internalError, 'input required') }
}

/** What a malformed `=?base64?…?=` header decodes to: a value no argument can equal. */
const INVALID_HEADER = '\u0000invalid base64'

/** Header values may be sent as `=?base64?…?=` (non-ASCII, padding); compare decoded. */
function headerValue (raw: string | string[] | undefined): string | undefined {
  const value = Array.isArray(raw) ? raw[0] : raw
  if (value === undefined) return undefined
  const trimmed = value.trim()
  const m = /^=\?base64\?(.*)\?=$/.exec(trimmed)
  if (!m) return trimmed
  // Strict: whole 4-character groups, padding only at the end; anything else matches no value.
  if (m[1].length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(m[1])) return INVALID_HEADER
  return Buffer.from(m[1], 'base64').toString('utf8')
}

function mismatch (what: string): RpcError {
  return new RpcError(ErrorCodes.headerMismatch, `Header mismatch: ${what}`, undefined, 400)
}

export interface ModernOptions {
  listTtlMs: number
}

/**
 * One POST of the stateless 2026-07-28 revision: the validation ladder, then the same method
 * table as the 2025 era, answered as JSON or, when the handler sends progress or logs first, as
 * an SSE stream scoped to this request. Closing that stream cancels the request.
 */
export async function answerModern (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, body: unknown, opts: ModernOptions) {
  const fail = (id: JsonRpcId | null, err: RpcError, status = err.httpStatus ?? 200) =>
    reply.code(status).headers(err.headers).type('application/json').send(rpcError(id, err.code, err.message, err.data))

  if (Array.isArray(body)) return fail(null, new RpcError(ErrorCodes.invalidRequest, 'the 2026-07-28 revision has no batches'), 400)
  const message = classify(body)
  if (message.kind === 'invalid') return reply.code(400).send(message.error)
  if (message.kind === 'response') return fail(message.id, new RpcError(ErrorCodes.invalidRequest, 'the 2026-07-28 revision has no client responses'), 400)
  // Cancellation over HTTP is closing the stream; a notification needs nothing more.
  if (message.kind === 'notification') return reply.code(202).send()

  const { id, method, params } = message
  const meta = params._meta
  let ctx: ReturnType<typeof validate>
  try {
    ctx = validate(request, method, params, meta)
  } catch (err) {
    if (err instanceof RpcError) return fail(id, err, err.httpStatus ?? 400)
    throw err
  }

  const principal = request.principal!
  const log = lazyChild(request.log, { mcpMethod: method })
  const lifeline = new Lifeline()
  let finished = false
  reply.raw.once('close', () => { if (!finished) lifeline.abort(new Error('client closed the response')) })

  if (method === 'subscriptions/listen') {
    finished = true
    return app.mcp.listeners.listen(reply, { id, params, principal: principal.id, expiresAt: principal.expiresAt, declaresTasks: tasksDeclared(ctx.capabilities) })
  }

  // The answer: plain JSON unless the handler sends something first.
  let stream: ReturnType<typeof startSse> | undefined
  const write = (payload: unknown) => { stream!.write(`data: ${JSON.stringify(payload)}\n\n`) }
  const notify = async (method: string, params: Record<string, unknown>) => {
    if (lifeline.aborted) return
    stream ??= startSse(reply)
    write({ jsonrpc: '2.0', method, params })
  }
  const finish = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
    finished = true
    if (lifeline.aborted) return reply
    if (stream) {
      write(payload)
      stream.end()
      return reply
    }
    return reply.code(status).headers(headers).type('application/json').send(payload)
  }

  // Multi round trip: answers come from this round's inputResponses and the sealed state of the
  // earlier rounds; a question without an answer ends this round as input_required.
  const requestKey = `${method}:${String(params[NAME_PARAM[method]] ?? '')}`
  const asked: Record<string, { method: string, params: Record<string, unknown> }> = {}
  const used: Record<string, unknown> = {}
  let answers: Record<string, unknown> = {}
  try {
    if (ROUND_TRIP.has(method)) {
      if (params.inputResponses !== undefined && params.inputResponses !== null && !isObject(params.inputResponses)) {
        throw new RpcError(ErrorCodes.invalidParams, 'inputResponses must be an object')
      }
      if (params.inputResponses === null) throw new RpcError(ErrorCodes.invalidParams, 'inputResponses must be an object, not null')
      if (params.requestState !== undefined) answers = { ...(await app.mcp.requestStates.open(params.requestState, principal.id, requestKey)).answers }
      Object.assign(answers, params.inputResponses ?? {})
    }
  } catch (err) {
    if (err instanceof RpcError) return finish(200, rpcError(id, err.code, err.message, err.data))
    throw err
  }
  const channel: Channel = {
    notify,
    request: async (askMethod, askParams, _signal, key) => {
      if (!ROUND_TRIP.has(method)) throw new RpcError(ErrorCodes.internalError, `${method} cannot ask the client anything`)
      if (Object.hasOwn(answers, key)) {
        used[key] = answers[key]
        return answers[key]
      }
      asked[key] = { method: askMethod, params: askParams }
      throw new InputRequired()
    }
  }
  const mc: MethodContext = {
    app, era: '2026', requestId: id, principal, sessionId: '', log, channel, lifeline, headers: request.headers,
    progressToken: progressTokenOf(params),
    logLevel: async () => ctx.logLevel,
    clientCapabilities: async () => ctx.capabilities,
    changes: app.mcp.changes
  }
  try {
    const result = method === 'server/discover' ? discover(app) : await app.mcp.dispatch(mc, method, params)
    return finish(200, rpcResult(id, complete(app, method, result, opts)))
  } catch (err) {
    if (err instanceof InputRequired) {
      // Questions asked together (Promise.all) land in the same round.
      await new Promise((resolve) => setImmediate(resolve))
      const requestState = await app.mcp.requestStates.seal({ principal: principal.id, request: requestKey, answers: used })
      return finish(200, rpcResult(id, {
        resultType: 'input_required', inputRequests: asked, requestState, _meta: { [META.serverInfo]: serverInfo() }
      }))
    }
    if (err instanceof RequestCancelled) return finish(200, rpcError(id, ErrorCodes.invalidRequest, 'cancelled'))
    if (err instanceof RpcError) {
      // Errors of the protocol ladder carry their HTTP status; a handler's error stays in-band.
      const status = err.httpStatus ?? 200
      return finish(stream ? 200 : status, rpcError(id, err.code, err.message, err.data), err.headers)
    }
    log.error({ err }, 'MCP request failed')
    return finish(200, rpcError(id, ErrorCodes.internalError, 'internal error'))
  }
}

function serverInfo () {
  return { name: packageInfo.name, version: packageInfo.version }
}

/** Every modern result: its resultType, the server's identity and, where cacheable, caching hints. */
function complete (app: FastifyInstance, method: string, result: Record<string, unknown>, opts: ModernOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { resultType: 'complete', ...result }
  out._meta = { ...(isObject(result._meta) ? result._meta : {}), [META.serverInfo]: serverInfo() }
  if (CACHEABLE.has(method)) {
    out.ttlMs ??= ttlFor(app, method, opts)
    out.cacheScope ??= method === 'resources/read' ? 'private' : 'public'
  }
  return out
}

function ttlFor (app: FastifyInstance, method: string, opts: ModernOptions): number {
  const own = method.startsWith('tools/') ? app.tools.ttlMs() : method.startsWith('prompts/') ? app.prompts.ttlMs() : method.startsWith('resources/') ? app.resources.ttlMs() : undefined
  return method === 'resources/read' ? own ?? 0 : own ?? opts.listTtlMs
}

function discover (app: FastifyInstance): Record<string, unknown> {
  const out: Record<string, unknown> = {
    supportedVersions: [...MODERN_VERSIONS, ...STREAMABLE_VERSIONS],
    capabilities: app.mcp.capabilities()
  }
  const extensions = serverExtensions(app)
  if (extensions) out.capabilities = { ...app.mcp.capabilities(), extensions }
  if (app.mcp.instructions) out.instructions = app.mcp.instructions
  return out
}

/** The validation ladder of 2026-07-28, in the order the spec's examples imply. */
function validate (request: FastifyRequest, method: string, params: Record<string, unknown>, meta: unknown) {
  if (!isObject(meta)) throw new RpcError(ErrorCodes.invalidParams, 'params._meta is required in protocol 2026-07-28', undefined, 400)
  const version = meta[META.version]
  const capabilities = meta[META.capabilities]
  if (typeof version !== 'string') throw new RpcError(ErrorCodes.invalidParams, `_meta["${META.version}"] must be a string`, undefined, 400)
  if (!isObject(capabilities)) throw new RpcError(ErrorCodes.invalidParams, `_meta["${META.capabilities}"] must be an object`, undefined, 400)
  const info = meta[META.clientInfo]
  if (info !== undefined && !(isObject(info) && typeof info.name === 'string' && typeof info.version === 'string')) {
    throw new RpcError(ErrorCodes.invalidParams, `_meta["${META.clientInfo}"] needs a name and a version`, undefined, 400)
  }
  const level = meta[META.logLevel]
  if (level !== undefined && !(LOG_LEVELS as readonly unknown[]).includes(level)) {
    throw new RpcError(ErrorCodes.invalidParams, `_meta["${META.logLevel}"] must be one of ${LOG_LEVELS.join(', ')}`, undefined, 400)
  }
  const header = headerValue(request.headers['mcp-protocol-version'])
  if (header !== version) throw mismatch(`MCP-Protocol-Version "${clip(header ?? '(missing)', 32)}" differs from _meta protocolVersion "${clip(version, 32)}"`)
  if (!(MODERN_VERSIONS as readonly string[]).includes(version)) {
    throw new RpcError(ErrorCodes.unsupportedVersion, 'Unsupported protocol version',
      { supported: [...MODERN_VERSIONS, ...STREAMABLE_VERSIONS], requested: clip(version, 64) }, 400)
  }
  const methodHeader = headerValue(request.headers['mcp-method'])
  if (methodHeader !== method) throw mismatch(`Mcp-Method "${clip(methodHeader ?? '(missing)')}" differs from the body's method "${clip(method)}"`)
  const nameParam = NAME_PARAM[method]
  if (nameParam && typeof params[nameParam] === 'string') {
    const name = headerValue(request.headers['mcp-name'])
    if (name !== params[nameParam]) throw mismatch(`Mcp-Name "${clip(name ?? '(missing)')}" differs from params.${nameParam}`)
  }
  if (method === 'initialize' || SESSION_METHODS.has(method)) {
    throw new RpcError(ErrorCodes.methodNotFound, `${method} does not exist in protocol ${version}`, undefined, 404)
  }
  if (method === 'tools/call' && typeof params.name === 'string') checkParamHeaders(request, params)
  return { capabilities, logLevel: (level ?? null) as LogLevel | null }
}

/** Tool arguments marked `x-mcp-header` must be mirrored in their Mcp-Param-* header. */
function checkParamHeaders (request: FastifyRequest, params: Record<string, unknown>): void {
  const tool = request.server.tools.get(params.name as string)
  const args = isObject(params.arguments) ? params.arguments : {}
  for (const [prop, schema] of Object.entries(tool?.input.properties ?? {})) {
    const name = (schema as Record<string, unknown>)['x-mcp-header']
    const value = args[prop]
    if (typeof name !== 'string' || value === undefined || value === null) continue
    const header = headerValue(request.headers[`mcp-param-${name.toLowerCase()}`])
    const same = typeof value === 'number' ? header !== undefined && Number(header) === value : header === String(value)
    if (!same) throw mismatch(`Mcp-Param-${name} does not match arguments.${prop}`)
  }
}
