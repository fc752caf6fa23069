import type { FastifyInstance } from 'fastify'
import { packageInfo } from '../package-info.js'
import type { Classified } from './rpc.js'
import { isObject, RpcError } from './rpc.js'
import type { LogLevel } from './types.js'
import { ErrorCodes } from '../../schemas/jsonrpc.js'

// 2025-era session state, kept in the session store (so every instance sees it): what the
// client declared at initialize, and the log level it set.
const CAPS = 'mcp:caps'
const LEVEL = 'mcp:level'

/** Answers `initialize` for a session: negotiates the version and records the client. */
export async function initializeSession (
  app: FastifyInstance,
  sessionId: string,
  params: Record<string, unknown>,
  versions: readonly string[]
): Promise<Record<string, unknown>> {
  if (typeof params.protocolVersion !== 'string') throw new RpcError(ErrorCodes.invalidParams, 'params.protocolVersion must be a string')
  const caps = isObject(params.capabilities) ? params.capabilities : {}
  // A version we do not speak gets our newest; the client then decides whether to go on.
  const version = versions.includes(params.protocolVersion) ? params.protocolVersion : versions[0]
  await app.sessions.setValue(sessionId, CAPS, JSON.stringify(caps))
  let capabilities = app.mcp.capabilities()
  // Tasks arrived in 2025-11-25 (tools/call only); 2026-07-28 moved them to an extension.
  if (version === '2025-11-25' && app.tools.list().some((tool) => tool.execution)) {
    capabilities = { ...capabilities, tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }
  }
  for (const kind of ['tools', 'prompts', 'resources'] as const) {
    if (capabilities[kind]) await app.sessions.join(`list:${kind}`, sessionId)
  }
  return {
    protocolVersion: version,
    capabilities,
    serverInfo: { name: packageInfo.name, version: packageInfo.version },
    instructions: app.mcp.instructions
  }
}

/** The per-session answers a call context asks for, read lazily (most calls never need them). */
export function sessionScope (app: FastifyInstance, sessionId: string) {
  return {
    changes: app.mcp.changes,
    elicitations: app.mcp.elicitations,
    logLevel: async (): Promise<LogLevel | null> => (await app.sessions.getValue(sessionId, LEVEL) as LogLevel | null) ?? 'info',
    clientCapabilities: async (): Promise<Record<string, unknown>> => {
      const raw = await app.sessions.getValue(sessionId, CAPS)
      return raw ? JSON.parse(raw) as Record<string, unknown> : {}
    }
  }
}

/**
 * Handles a client notification or response in a session. Cancellation aborts the named call;
 * an answer goes to the server request waiting for it. Throws RpcError for an answer nobody
 * waits for (the door answers HTTP 400).
 */
export async function acceptClientMessage (app: FastifyInstance, sessionId: string, message: Classified): Promise<void> {
  if (message.kind === 'response') {
    await app.mcp.clientRequests.answer(sessionId, message)
    return
  }
  if (message.kind !== 'notification') return
  const { method, params } = message
  if (method === 'notifications/cancelled' && (typeof params.requestId === 'string' || typeof params.requestId === 'number')) {
    app.calls.cancel(sessionId, String(params.requestId), typeof params.reason === 'string' ? params.reason.slice(0, 200) : undefined)
  }
  // notifications/initialized, roots/list_changed and others need no action here.
}

/**
 * What an MCP stream says when frames it should have carried were dropped by retention: a
 * warning log message (MCP has no dedicated notice), with a stable code clients can match.
 */
export function mcpGapNotice () {
  return {
    event: 'message',
    data: JSON.stringify({
      jsonrpc: '2.0',
      method: 'notifications/message',
      params: { level: 'warning', logger: 'datapulse', data: { code: 'frames_dropped', message: 'messages for this stream were dropped by the retention limit before they could be delivered' } }
    })
  }
}

export function progressTokenOf (params: Record<string, unknown>): string | number | undefined {
  const meta = params._meta
  if (typeof meta !== 'object' || meta === null) return undefined
  const token = (meta as Record<string, unknown>).progressToken
  return typeof token === 'string' || typeof token === 'number' ? token : undefined
}
