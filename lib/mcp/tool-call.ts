import { AppError } from '../errors.js'
import { ToolError, type AnyTool } from '../tool.js'
import { createTaskResult, TASK_KEY, TASK_TOKEN, type TaskRun } from './task-runner.js'
import { declaresTasks, missingExtension, taskOwner, TASKS_EXTENSION } from './task-methods.js'
import { createCallContext, type CallScope } from './context.js'
import { clip, isObject, RequestCancelled, requireString, RpcError } from './rpc.js'
import { ClientCancelled, requestKey } from '../calls.js'
import type { Lifeline } from '../lifeline.js'
import type { CallToolResult, ContentBlock } from './types.js'
import type { MethodContext } from './methods.js'
import { ErrorCodes } from '../../schemas/jsonrpc.js'
import { scopeRefusal } from '../security/scopes.js'

// tools/call: a plain call in a call slot, or a task (lib/mcp/task-runner.ts) in either era.

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
    statusTo: sessionId,
    forward: async (method, p) => { await mc.app.sessions.publish(sessionId, { event: 'message', data: JSON.stringify({ jsonrpc: '2.0', method, params: p }) }) }
  })
}

/** Runs a tool call in a call slot, so it can be cancelled, counted and drained at shutdown. */
export async function callTool (mc: MethodContext, params: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { app } = mc
  const name = requireString(params, 'name', 'a tool name')
  const args = params.arguments
  if (args !== undefined && !isObject(args)) throw new RpcError(ErrorCodes.invalidParams, 'params.arguments must be an object')
  const tool = app.tools.get(name)
  requireScopes(mc, tool?.scopes)
  // Plain calls (no task support, no task asked for) decide at once: nothing is awaited for them.
  const mode = tool?.execution || (mc.era === '2025' && params.task !== undefined) ? await taskMode(mc, tool, params) : 'none'
  const runner = app.mcp.taskRunner
  // A task from the start: the client has its id before the handler runs.
  const run = mode === 'call' ? await openTask(mc, name, params) : undefined
  // A task the handler starts (ctx.runAsTask): until then the call answers its own questions.
  let adopted: TaskRun | undefined
  let handedOff: Promise<TaskRun> | undefined
  let scope: CallScope = mc
  if (run) {
    scope = { ...mc, channel: run.channel, progressToken: mc.progressToken ?? TASK_TOKEN, lifeline: undefined }
    if (mc.era === '2026') scope.logLevel = async () => null
  }
  else if (mode === 'handler') {
    let handOff: (run: TaskRun) => void = () => {}
    handedOff = new Promise<TaskRun>((resolve) => { handOff = resolve })
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
  if (!handedOff) return outcome
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

/** Refuses the request with 403 insufficient_scope (step-up, SEP-2350) when the principal lacks any of `needed`. */
export function requireScopes (mc: MethodContext, needed: readonly string[] | undefined): void {
  const refusal = scopeRefusal(needed, mc.principal)
  if (!refusal) return
  const err = new RpcError(ErrorCodes.invalidRequest, `insufficient scope: this needs ${refusal.scope}`, { requiredScopes: refusal.missing }, 403)
  err.headers['www-authenticate'] = refusal.header
  throw err
}
