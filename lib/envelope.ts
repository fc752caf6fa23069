import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { ToolError } from './tool.js'
import { traced } from './tracing.js'
import { createCallContext } from './mcp/context.js'
import type { Principal } from './security/principal.js'
import type { CallHandle } from './calls.js'
import type { ErrorFrame, MCPRequest, MCPResponse } from '../schemas/envelope.js'

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

/**
 * Runs one accepted envelope request and publishes its answer (or an error frame) to the session.
 * Never throws: every outcome becomes a frame, so the client always hears back.
 */
export async function answerEnvelope (
  app: FastifyInstance,
  req: { sessionId: string, principal: Principal, log: FastifyBaseLogger, headers?: Record<string, unknown> },
  message: MCPRequest,
  line: CallHandle
): Promise<void> {
  let frame: string
  if (message.type === 'list_tools') {
    frame = responseFrame('list_tools', message.request_id, { tools: app.tools.list() })
  } else {
    const { name, args } = toolCallOf(message.data ?? {})
    try {
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
          }
        },
        logLevel: async () => null,
        changes: app.mcp.changes,
        clientCapabilities: async () => ({})
      })
      const result = await traced({ method: 'tools/call', name: String(name), requestId: message.request_id, sessionId: req.sessionId, headers: req.headers },
        () => app.tools.call(String(name), args, ctx, line))
      frame = responseFrame('tool_result', message.request_id, result ?? null)
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
