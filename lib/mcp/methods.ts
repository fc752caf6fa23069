import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.js'
import { ToolError, type AnyTool } from '../tool.js'
import { createTaskResult, TASK_KEY, TASK_TOKEN, type TaskRun } from './task-runner.js'
import { declaresTasks, missingExtension, taskMethods, taskOwner, TASKS_EXTENSION } from './task-methods.js'
import { createCallContext, type CallScope } from './context.js'
import { paginate } from './paginate.js'
import { clip, isObject, RequestCancelled, RpcError } from './rpc.js'
import { ClientCancelled, requestKey } from '../calls.js'
import type { Lifeline } from '../lifeline.js'
import { LOG_LEVELS, type CallToolResult, type ContentBlock } from './types.js'
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

const CONTENT_TYPES = new Set(['text', 'image', 'audio', 'resource_link', 'resource'])

function isContent (value: unknown): value is ContentBlock {
  return isObject(value) && typeof value.type === 'string' && CONTENT_TYPES.has(value.type)
}

/** What a tool handler returned, as a CallToolResult (see ToolDefinition.handler). */
export function toCallToolResult (value: unknown): CallToolResult {
  if (isObject(value) && Array.isArray(value.content) && value.content.every(isContent)) return value as unknown as CallToolResult
  if (Array.isArray(value) && value.length > 0 && value.every(isContent)) return { content: value }
  if (isContent(value)) return { content: [value] }
  if (isObject(value)) return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value }
  return { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value ?? null) }] }
}

function requireString (params: Record<string, unknown>, key: string, what: string): string {
  const value = params[key]
  if (typeof value !== 'string' || value === '') throw new RpcError(ErrorCodes.invalidParams, `params.${key} must be ${what}`)
  return value
}

function requireSession (mc: MethodContext): string {
  if (!mc.sessionId) throw new RpcError(ErrorCodes.methodNotFound, 'this method needs a session (2025-era protocol)', undefined, 404)
  return mc.sessionId
}

/**
 * How a call runs: as a plain call, or as a task for a tool that supports tasks when the client
 * asked for one (2025-11-25: `params.task`) or declared the extension on this request
 * (2026-07-28: the server decides). A tool that requires a task refuses plain calls.
 */
async function taskMode (mc: MethodContext, tool: AnyTool | undefined, params: Record<string, unknown>): Promise<'none' | 'call' | 'handler'> {
  const execution = tool?.execution
  if (mc.era === '2025') {
    const asked = isObject(params.task)
    if (asked && tool && !execution) throw new RpcError(ErrorCodes.methodNotFound, `tool "${clip(tool?.name ?? '')}" does not run as a task`)
    if (!asked && execution?.taskSupport === 'required') throw new RpcError(ErrorCodes.methodNotFound, `tool "${clip(tool!.name)}" runs only as a task: call it with params.task`)
    return asked && execution ? execution.taskStart ?? 'call' : 'none'
  }
  if (!execution) return 'none'
  if (await declaresTasks(mc)) return execution.taskStart ?? 'call'
  if (execution.taskSupport === 'required') throw missingExtension(TASKS_EXTENSION)
  return 'none'
}

/** Opens the task a call runs as, shaped for its era: 2025-era tasks belong to their session. */
function openTask (mc: MethodContext, name: string, params: Record<string, unknown>): Promise<TaskRun> {
  const runner = mc.app.mcp.taskRunner
  if (mc.era === '2026') return runner.open(taskOwner(mc), name)
  const asked = params.task as Record<string, unknown>
  const sessionId = mc.sessionId
  return runner.open(taskOwner(mc), name, {
    ttlMs: typeof asked.ttl === 'number' ? asked.ttl : undefined,
    indexed: true,
    forward: async (method, p) => { await mc.app.sessions.publish(sessionId, { event: 'message', data: JSON.stringify({ jsonrpc: '2.0', method, params: p }) }) }
  })
}

/** Runs a tool call in a call slot, so it can be cancelled, counted and drained at shutdown. */
async function callTool (mc: MethodContext, params: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { app } = mc
  const name = requireString(params, 'name', 'a tool name')
  const args = params.arguments
  if (args !== undefined && !isObject(args)) throw new RpcError(ErrorCodes.invalidParams, 'params.arguments must be an object')
  const missing = app.tools.missingScopes(name, mc.principal.kind === 'local' ? null : mc.principal.scopes)
  if (missing.length > 0) throw insufficientScope(missing, mc.principal.scopes)
  const mode = await taskMode(mc, app.tools.get(name), params)
  const runner = app.mcp.taskRunner
  // A task from the start: the client has its id before the handler runs.
  const run = mode === 'call' ? await openTask(mc, name, params) : undefined
  // A task the handler starts (ctx.runAsTask): until then the call answers its own questions.
  let adopted: TaskRun | undefined
  let handOff: (run: TaskRun) => void = () => {}
  const handedOff = new Promise<TaskRun>((resolve) => { handOff = resolve })
  let scope: CallScope = mc
  if (run) {
    scope = { ...mc, channel: run.channel, progressToken: mc.progressToken ?? TASK_TOKEN, lifeline: undefined }
    if (mc.era === '2026') scope.logLevel = async () => null
  }
  else if (mode === 'handler') {
    const own = mc.channel
    scope = {
      ...mc,
      channel: {
        notify: (method, p) => (adopted?.channel ?? own!).notify(method, p),
        request: (method, p, signal, key) => (adopted?.channel ?? own!).request!(method, p, signal, key)
      },
      get progressToken () { return adopted ? mc.progressToken ?? TASK_TOKEN : mc.progressToken },
      becomeTask: async () => {
        if (adopted) return
        adopted = await openTask(mc, name, params)
        adopted.line = call
        handOff(adopted)
      }
    }
  }
  let running: Promise<unknown>
  let call: Lifeline | undefined
  try {
    const slot = run ? `${TASK_KEY}${run.task.taskId}` : mc.sessionId || requestKey()
    running = app.calls.start(slot, run ? run.task.taskId : String(mc.requestId), (line) => {
      call = line
      if (run) run.line = line
      return app.tools.call(name, args ?? {}, createCallContext(scope, line), line, mode === 'none' ? undefined : runner.timeoutMs)
    }, run ? undefined : mc.lifeline)
  } catch (err) {
    const refused = err instanceof AppError
      ? new RpcError(err.statusCode === 409 ? ErrorCodes.invalidRequest : ErrorCodes.overloaded, err.message)
      : err
    // A task made for a call that could not start ends with the reason, not with its lease.
    if (run) runner.settle(run, Promise.reject(refused))
    throw refused
  }
  const outcome = settle(mc, name, running, () => call)
  if (run) {
    runner.settle(run, outcome)
    return createTaskResult(run.task, mc.era)
  }
  if (mode !== 'handler') return outcome
  const first = await Promise.race([outcome.then((result) => ({ result })), handedOff.then((task) => ({ task }))])
  if ('result' in first) return first.result
  runner.settle(first.task, outcome)
  return createTaskResult(first.task.task, mc.era)
}

/** A running call's result, or the protocol error it ends with. */
async function settle (mc: MethodContext, name: string, running: Promise<unknown>, call: () => Lifeline | undefined): Promise<Record<string, unknown>> {
  let result: CallToolResult
  try {
    result = toCallToolResult(await running)
    if (result.structuredContent !== undefined) mc.app.tools.checkOutput(name, result.structuredContent)
  } catch (err) {
    if (call()?.reason instanceof ClientCancelled) throw new RequestCancelled('cancelled by the client')
    // Protocol errors (unknown tool, a client that cannot answer) are the caller's mistake; a tool
    // that fails is a result the model should see (isError), per the tools spec.
    if (err instanceof RpcError) throw err
    // Arguments that break the tool's schema are a result the model can correct itself from
    // (2025-11-25, SEP-1303); only an unknown tool stays a protocol error.
    if (err instanceof ToolError && err.code === 'unknown_tool') throw new RpcError(ErrorCodes.invalidParams, err.message)
    if (err instanceof ToolError && err.cause instanceof RpcError) throw err.cause
    const text = err instanceof Error ? err.message : String(err)
    if (!(err instanceof ToolError)) mc.log.warn({ err }, 'tool call failed')
    return { content: [{ type: 'text', text }], isError: true }
  }
  return result as unknown as Record<string, unknown>
}

/**
 * 403 insufficient_scope (step-up, SEP-2350). The challenge names the scopes the token holds as
 * well as those it lacks: a client asks for exactly that, and its new token loses nothing.
 */
export function insufficientScope (missing: string[], held: string[] = []): RpcError {
  const scope = [...new Set([...held, ...missing])].join(' ')
  const err = new RpcError(ErrorCodes.invalidRequest, `insufficient scope: this needs ${scope}`, { requiredScopes: missing }, 403)
  err.headers['www-authenticate'] = `Bearer error="insufficient_scope", scope="${scope}"`
  return err
}

async function readResource (mc: MethodContext, params: Record<string, unknown>) {
  const uri = requireString(params, 'uri', 'a resource URI')
  try {
    return { contents: await mc.app.resources.read(uri, createCallContext(mc)) }
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
