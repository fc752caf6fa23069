import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { ToolError } from './tool.js'
import { traced } from './tracing.js'
import { createCallContext } from './mcp/context.js'
import type { Principal } from './security/principal.js'
import type { CallHandle } from './calls.js'
import type { ErrorFrame, MCPRequest, MCPResponse } from '../schemas/envelope.js'
import { toCallToolResult } from './mcp/tool-call.js'
import { RpcError } from './mcp/rpc.js'
import type { TaskRun } from './mcp/task-runner.js'
import { detailed, type TaskRecord } from './mcp/tasks.js'

export { taskFrame }

export function errorFrame (requestId: string | null, code: string, error: string): string {
  const frame: ErrorFrame = { type: 'error', request_id: requestId, error, code }
  return JSON.stringify(frame)
}

function responseFrame (type: MCPResponse['type'], requestId: string, data: unknown): string {
  const frame: MCPResponse = { type, request_id: requestId, data }
  return JSON.stringify(frame)
}

/**
 * Tool name and arguments from an envelope `call_tool`: arguments are either `data.arguments`
 * or, as in the original protocol, every other field beside `name`.
 */
export function toolCallOf (data: Record<string, unknown>): { name: unknown, args: unknown } {
  const { name, arguments: nested, ...flat } = data
  return { name, args: nested !== undefined ? nested : flat }
}

/** Who an envelope task belongs to: its principal and session, like a 2025-era session's. */
export const envelopeTaskOwner = (principal: Principal, sessionId: string): string => `${principal.id}\u0000${sessionId}`

/** A task as an envelope `task_status` frame shows it: its state, with the result once it ended. */
const taskFrame = (requestId: string, task: TaskRecord) => responseFrame('task_status', requestId, detailed(task))

/**
 * Runs one accepted envelope request and publishes its answer (or an error frame) to the session.
 * Never throws: every outcome becomes a frame, so the client always hears back. `run`: the task
 * a `call_tool` runs as; its outcome is filed in the task as well as sent as the usual frame.
 */
export async function answerEnvelope (
  app: FastifyInstance,
  req: { sessionId: string, principal: Principal, log: FastifyBaseLogger, headers?: Record<string, unknown> },
  message: MCPRequest,
  line: CallHandle,
  run?: TaskRun
): Promise<void> {
  let frame: string
  if (message.type === 'list_tools') {
    frame = responseFrame('list_tools', message.request_id, { tools: app.tools.list() })
  } else if (message.type === 'get_task' || message.type === 'cancel_task') {
    frame = await answerTask(app, req, message)
  } else {
    const { name, args } = toolCallOf(message.data ?? {})
    const ctx = createCallContext({
      principal: req.principal,
      sessionId: req.sessionId,
      lifeline: line,
      log: req.log,
      // Every call may report progress; the envelope has no logs or client requests.
      progressToken: message.request_id,
      channel: {
        notify: async (_method, params) => {
          const { progressToken: _token, ...data } = params
          await app.sessions.publish(req.sessionId, { data: JSON.stringify({ type: 'progress', request_id: message.request_id, data }) })
          // A task's progress message is its status message too.
          if (run) await run.channel.notify('notifications/progress', params)
        }
      },
      logLevel: async () => null,
      changes: app.mcp.changes,
      clientCapabilities: async () => ({})
    })
    const outcome = traced({ method: 'tools/call', name: String(name), requestId: message.request_id, sessionId: req.sessionId, headers: req.headers },
      () => app.tools.call(String(name), args, ctx, line, run ? app.mcp.taskRunner.timeoutMs : undefined))
    if (run) app.mcp.taskRunner.settle(run, outcome.then((value) => toCallToolResult(value) as unknown as Record<string, unknown>, toolErrorResult))
    try {
      frame = responseFrame('tool_result', message.request_id, (await outcome) ?? null)
    } catch (err) {
      const code = err instanceof ToolError ? err.code : 'tool_failed'
      const text = err instanceof Error ? err.message : String(err)
      // The registry logged an unexpected error under the id it sent; a ToolError is the tool's answer.
      if (!(err instanceof ToolError)) req.log.warn({ err }, 'tool call failed')
      else req.log.info({ code, message: text }, 'tool call failed')
      frame = errorFrame(message.request_id, code, text)
    }
  }
  await app.streams.deliver(req.sessionId, { data: frame }, req.log)
}

/** What a failed envelope call files in its task: a tool error is a result, a protocol error fails it. */
function toolErrorResult (err: unknown): Record<string, unknown> {
  if (err instanceof ToolError && err.cause instanceof RpcError) throw err.cause
  return { content: [{ type: 'text', text: err instanceof Error ? err.message : String(err) }], isError: true }
}

/** get_task and cancel_task: the task's state as a frame, or an error frame naming what is wrong. */
async function answerTask (app: FastifyInstance, req: { sessionId: string, principal: Principal }, message: MCPRequest): Promise<string> {
  const owner = envelopeTaskOwner(req.principal, req.sessionId)
  try {
    const taskId = message.data?.task_id
    if (message.type === 'cancel_task') await app.mcp.tasks.cancel(taskId, owner)
    return taskFrame(message.request_id, await app.mcp.tasks.get(taskId, owner))
  } catch (err) {
    if (err instanceof RpcError) return errorFrame(message.request_id, 'unknown_task', 'no such task in this session (it may have expired)')
    throw err
  }
}
