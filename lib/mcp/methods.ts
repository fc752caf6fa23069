import type { FastifyInstance } from 'fastify'
import { taskMethods, TASKS_EXTENSION } from './task-methods.js'
import { callTool, requireScopes } from './tool-call.js'
import { createCallContext, type CallScope } from './context.js'
import { paginate } from './paginate.js'
import { clip, isObject, requireString, RpcError } from './rpc.js'
import { LOG_LEVELS } from './types.js'
import { ResourceNotFound } from '../resource.js'
import { PromptError } from '../prompt.js'
import { ErrorCodes, type JsonRpcId } from '../../schemas/jsonrpc.js'

export type Era = '2025' | '2026'

/** Everything a method handler may use: the request's scope plus where it came from. */
export interface MethodContext extends CallScope {
  app: FastifyInstance
  era: Era
  requestId: JsonRpcId
  /** The HTTP request's headers: where a 2025-era caller's trace context is (lib/tracing.ts). */
  headers?: Record<string, unknown>
}

export type MethodHandler = (mc: MethodContext, params: Record<string, unknown>) => Promise<Record<string, unknown>>


function requireSession (mc: MethodContext): string {
  if (!mc.sessionId) throw new RpcError(ErrorCodes.methodNotFound, 'this method needs a session (2025-era protocol)', undefined, 404)
  return mc.sessionId
}

async function readResource (mc: MethodContext, params: Record<string, unknown>) {
  const uri = requireString(params, 'uri', 'a resource URI')
  const found = mc.app.resources.find(uri)
  requireScopes(mc, found?.scopes)
  try {
    if (!found) throw new ResourceNotFound(uri)
    return { contents: await found.read(createCallContext(mc)) }
  } catch (err) {
    if (!(err instanceof ResourceNotFound)) throw err
    // The 2025 era has its own code; 2026-07-28 (SEP-2164) uses invalid params.
    const code = mc.era === '2025' ? ErrorCodes.resourceNotFound : ErrorCodes.invalidParams
    throw new RpcError(code, err.message, { uri: clip(uri, 200) })
  }
}

async function getPrompt (mc: MethodContext, params: Record<string, unknown>) {
  const name = requireString(params, 'name', 'a prompt name')
  if (params.arguments !== undefined && !isObject(params.arguments)) throw new RpcError(ErrorCodes.invalidParams, 'params.arguments must be an object')
  requireScopes(mc, mc.app.prompts.scopesOf(name))
  try {
    return await mc.app.prompts.get(name, params.arguments ?? {}, createCallContext(mc))
  } catch (err) {
    if (err instanceof PromptError) throw new RpcError(ErrorCodes.invalidParams, err.message)
    throw err
  }
}

const MAX_COMPLETIONS = 100

async function complete (mc: MethodContext, params: Record<string, unknown>) {
  const { ref, argument, context } = params
  if (!isObject(ref) || !isObject(argument) || typeof argument.name !== 'string' || typeof argument.value !== 'string') {
    throw new RpcError(ErrorCodes.invalidParams, 'params need ref and argument {name, value}')
  }
  let completer
  if (ref.type === 'ref/prompt' && typeof ref.name === 'string') completer = mc.app.prompts.completer(ref.name, argument.name)
  else if (ref.type === 'ref/resource' && typeof ref.uri === 'string') completer = mc.app.resources.completer(ref.uri, argument.name)
  else throw new RpcError(ErrorCodes.invalidParams, 'ref must be ref/prompt with a name or ref/resource with a uri')
  if (completer === null) throw new RpcError(ErrorCodes.invalidParams, `nothing to complete: unknown ${ref.type === 'ref/prompt' ? 'prompt or argument' : 'template or variable'} "${clip(argument.name)}"`)
  const known = isObject(context) && isObject(context.arguments) ? context.arguments as Record<string, string> : {}
  const values = completer ? (await completer(argument.value, known)).filter((v) => typeof v === 'string') : []
  return {
    completion: {
      values: values.slice(0, MAX_COMPLETIONS),
      total: values.length,
      hasMore: values.length > MAX_COMPLETIONS
    }
  }
}

async function setLevel (mc: MethodContext, params: Record<string, unknown>) {
  const sessionId = requireSession(mc)
  const level = params.level
  if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new RpcError(ErrorCodes.invalidParams, `level must be one of ${LOG_LEVELS.join(', ')}`)
  }
  await mc.app.sessions.setValue(sessionId, 'mcp:level', level)
  return {}
}

async function subscription (mc: MethodContext, params: Record<string, unknown>, join: boolean) {
  const sessionId = requireSession(mc)
  const uri = requireString(params, 'uri', 'a resource URI')
  if (join && !mc.app.resources.find(uri)) throw new RpcError(ErrorCodes.resourceNotFound, `resource not found: ${clip(uri, 200)}`, { uri: clip(uri, 200) })
  const topic = `resource:${uri}`
  await (join ? mc.app.sessions.join(topic, sessionId) : mc.app.sessions.leave(topic, sessionId))
  return {}
}

/**
 * The method table: one handler per method, shared by every door and both eras. A handler
 * returns a result or throws an RpcError; framing is the door's business.
 */
export const methods: Record<string, MethodHandler> = {
  ping: async () => ({}),
  'tools/list': async (mc, params) => paginate(mc.app.tools.list(), params.cursor, 'tools'),
  'tools/call': callTool,
  'resources/list': async (mc, params) => paginate(mc.app.resources.list(), params.cursor, 'resources'),
  'resources/templates/list': async (mc, params) => paginate(mc.app.resources.listTemplates(), params.cursor, 'resourceTemplates'),
  'resources/read': readResource,
  'resources/subscribe': (mc, params) => subscription(mc, params, true),
  'resources/unsubscribe': (mc, params) => subscription(mc, params, false),
  'prompts/list': async (mc, params) => paginate(mc.app.prompts.list(), params.cursor, 'prompts'),
  'prompts/get': getPrompt,
  'completion/complete': complete,
  'logging/setLevel': setLevel,
  ...taskMethods
}

/** The server capability a method belongs to: without it (nothing registered) the method does not exist. */
export const METHOD_CAPABILITY: Record<string, string> = {
  'tools/list': 'tools',
  'tools/call': 'tools',
  'resources/list': 'resources',
  'resources/templates/list': 'resources',
  'resources/read': 'resources',
  'resources/subscribe': 'resources',
  'resources/unsubscribe': 'resources',
  'prompts/list': 'prompts',
  'prompts/get': 'prompts',
  'completion/complete': 'completions'
}

/** Methods that exist only with 2025-era sessions; the stateless revision removed them. */
export const SESSION_METHODS = new Set(['ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe'])

/** Extensions this server offers 2026-07-28 clients (in `server/discover`). */
export function serverExtensions (app: FastifyInstance): Record<string, unknown> | undefined {
  return app.tools.list().some((tool) => tool.execution) ? { [TASKS_EXTENSION]: {} } : undefined
}

/** What this server offers, derived from what is registered. */
export function serverCapabilities (app: FastifyInstance): Record<string, unknown> {
  const caps: Record<string, unknown> = { logging: {} }
  const completable = app.prompts.count() > 0 || app.resources.count() > 0
  if (completable) caps.completions = {}
  if (app.tools.list().length > 0) caps.tools = { listChanged: true }
  if (app.resources.count() > 0) caps.resources = { subscribe: true, listChanged: true }
  if (app.prompts.count() > 0) caps.prompts = { listChanged: true }
  return caps
}
