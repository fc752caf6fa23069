import type { MethodContext, MethodHandler } from './methods.js'
import { paginate } from './paginate.js'
import { isObject, RpcError } from './rpc.js'
import { detailed, isTerminal, task2025, TASKS_EXTENSION, tasksDeclared, type TaskRecord } from './tasks.js'
import { ErrorCodes } from '../../schemas/jsonrpc.js'

export { TASKS_EXTENSION }

const RELATED = 'io.modelcontextprotocol/related-task'

/** Whether this request's client declared the tasks extension (2026-07-28: per request, in `_meta`). */
export async function declaresTasks (mc: MethodContext): Promise<boolean> {
  return tasksDeclared(await mc.clientCapabilities())
}

/** -32021 naming an extension the request needs, shaped like the client's capabilities. */
export function missingExtension (name: string): RpcError {
  return new RpcError(ErrorCodes.missingCapability, `Missing required client capability: the ${name} extension`,
    { requiredCapabilities: { extensions: { [name]: {} } } }, 400)
}

/**
 * Who a task belongs to: its principal, and in the 2025 era its session too, so that with one
 * shared token a client still sees only the tasks of its own session.
 */
export function taskOwner (mc: MethodContext): string {
  return mc.era === '2025' ? `${mc.principal.id}\u0000${mc.sessionId}` : mc.principal.id
}

const only = (era: '2025' | '2026', method: string) => new RpcError(ErrorCodes.methodNotFound,
  `${method} is not part of the ${era === '2025' ? '2026-07-28 tasks extension' : '2025-11-25 revision\'s tasks'}`, undefined, 404)

async function gate (mc: MethodContext, method: string, eras: ReadonlyArray<'2025' | '2026'>): Promise<void> {
  if (!eras.includes(mc.era)) throw only(mc.era, method)
  if (mc.era === '2026' && !await declaresTasks(mc)) throw missingExtension(TASKS_EXTENSION)
}

/**
 * 2025-11-25 tasks/result: waits for the end of the task and answers what the call would have.
 * Meanwhile, questions the task asks (input_required) are put to the client on this request's
 * own stream, and its answers filed with the task.
 */
async function taskResult (mc: MethodContext, params: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { tasks } = mc.app.mcp
  const owner = taskOwner(mc)
  const forwarded = new Set<string>()
  let task: TaskRecord = await tasks.get(params.taskId, owner)
  const waitMs = Math.min(250, Math.max(20, Math.floor(task.pollIntervalMs / 4)))
  while (!isTerminal(task.status)) {
    if (mc.lifeline?.aborted) throw new RpcError(ErrorCodes.invalidRequest, 'the client went away')
    for (const [key, ask] of Object.entries(task.inputRequests ?? {})) {
      if (forwarded.has(key) || !mc.channel?.request) continue
      forwarded.add(key)
      const taskId = task.taskId
      const question = { ...ask.params, _meta: { ...(isObject(ask.params._meta) ? ask.params._meta : {}), [RELATED]: { taskId } } }
      mc.channel.request(ask.method, question, mc.lifeline?.signal ?? new AbortController().signal, key)
        .then((answer) => tasks.respond(taskId, owner, { [key]: answer }))
        .catch((err: unknown) => mc.log.debug({ err, taskId }, 'a task question went unanswered'))
    }
    await new Promise((resolve) => setTimeout(resolve, waitMs))
    task = await tasks.get(task.taskId, owner)
  }
  if (task.status === 'completed') return { ...task.result, _meta: { ...(isObject(task.result?._meta) ? task.result._meta : {}), [RELATED]: { taskId: task.taskId } } }
  if (task.status === 'failed') throw new RpcError(task.error!.code, task.error!.message, task.error!.data)
  throw new RpcError(ErrorCodes.invalidRequest, 'the task was cancelled')
}

/**
 * The tasks methods of both eras, answered from the store on any instance, for the task's owner
 * only. 2026-07-28 (the extension): tasks/get inlines the result, tasks/update answers questions,
 * there is no tasks/list or tasks/result. 2025-11-25: tasks/result waits for the result and
 * carries the questions, tasks/list lists the session's tasks.
 */
export const taskMethods: Record<string, MethodHandler> = {
  'tasks/get': async (mc, params) => {
    await gate(mc, 'tasks/get', ['2025', '2026'])
    const task = await mc.app.mcp.tasks.get(params.taskId, taskOwner(mc))
    return mc.era === '2026' ? detailed(task) : task2025(task)
  },
  'tasks/update': async (mc, params) => {
    await gate(mc, 'tasks/update', ['2026'])
    await mc.app.mcp.tasks.respond(params.taskId, taskOwner(mc), params.inputResponses)
    return {}
  },
  'tasks/cancel': async (mc, params) => {
    await gate(mc, 'tasks/cancel', ['2025', '2026'])
    const { tasks } = mc.app.mcp
    if (mc.era === '2026') {
      await tasks.cancel(params.taskId, taskOwner(mc))
      return {}
    }
    // 2025-11-25: a finished task cannot be cancelled, and the answer is the cancelled task.
    const task = await tasks.get(params.taskId, taskOwner(mc))
    if (isTerminal(task.status)) throw new RpcError(ErrorCodes.invalidParams, `the task is already ${task.status}`)
    await tasks.cancel(task.taskId, taskOwner(mc))
    return task2025(await tasks.get(task.taskId, taskOwner(mc)))
  },
  'tasks/result': async (mc, params) => {
    await gate(mc, 'tasks/result', ['2025'])
    return taskResult(mc, params)
  },
  'tasks/list': async (mc, params) => {
    await gate(mc, 'tasks/list', ['2025'])
    return paginate((await mc.app.mcp.tasks.list(taskOwner(mc))).map(task2025), params.cursor, 'tasks')
  }
}
