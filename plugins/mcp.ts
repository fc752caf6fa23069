import fp from 'fastify-plugin'
import { traced } from '../lib/tracing.js'
import type { FastifyInstance } from 'fastify'
import { createClientRequests } from '../lib/mcp/client-requests.js'
import { createListeners } from '../lib/mcp/listeners.js'
import { createRequestStates } from '../lib/mcp/request-state.js'
import { METHOD_CAPABILITY, methods, serverCapabilities, type MethodContext } from '../lib/mcp/methods.js'
import { clip, RpcError } from '../lib/mcp/rpc.js'
import { createTasks, detailed, type TasksOptions } from '../lib/mcp/tasks.js'
import { createUrlElicitations } from '../lib/mcp/url-elicitation.js'
import { createTaskRunner, type RunnerOptions } from '../lib/mcp/task-runner.js'
import { AppError } from '../lib/errors.js'
import { ErrorCodes } from '../schemas/jsonrpc.js'

export interface McpPluginOptions {
  /** How long a request to the client (elicitation, sampling) may wait for its answer. */
  clientRequestTimeoutMs: number
  instructions?: string
  /** A fixed key for sealing 2026 request state; by default one the session store shares. */
  stateSecret?: string
  stateTtlMs: number
  maxListeners: number
  maxListenersPerPrincipal: number
  pingIntervalMs: number
  tasks: TasksOptions & RunnerOptions & { maxRunning: number }
}

export type ListKind = 'tools' | 'prompts' | 'resources'

/** The MCP engine every door shares: the method table, capabilities and change notifications. */
export function createMcp (app: FastifyInstance, opts: McpPluginOptions) {
  const clientRequests = createClientRequests(app.sessions, opts.clientRequestTimeoutMs)
  let capabilities: Record<string, unknown> | undefined
  const capabilitiesOf = () => (capabilities ??= serverCapabilities(app))
  const requestStates = createRequestStates(async () => opts.stateSecret ?? await app.sessions.secret(), opts.stateTtlMs)
  const elicitations = createUrlElicitations(app.sessions, opts.stateTtlMs)
  const tasks = createTasks(app.sessions, opts.tasks)
  const taskRunner = createTaskRunner(app, tasks, opts.tasks)
  const listeners = createListeners(app.sessions, {
    max: opts.maxListeners,
    maxPerPrincipal: opts.maxListenersPerPrincipal,
    pingIntervalMs: opts.pingIntervalMs,
    capabilities: capabilitiesOf,
    task: async (taskId, owner) => detailed(await tasks.get(taskId, owner))
  })

  /** Publishes a notification to every session of `topic`; sessions gone meanwhile leave it. */
  async function toSessions (topic: string, notification: Record<string, unknown>): Promise<void> {
    const data = JSON.stringify(notification)
    for (const sessionId of await app.sessions.members(topic)) {
      try {
        await app.sessions.publish(sessionId, { event: 'message', data })
      } catch (err) {
        if (err instanceof AppError && err.statusCode === 404) await app.sessions.leave(topic, sessionId)
        else throw err
      }
    }
  }

  const changes = {
    /** Tells subscribers of `uri` it changed: 2025 sessions through their logs, 2026 listeners by broadcast. */
    async resourceUpdated (uri: string): Promise<void> {
      await toSessions(`resource:${uri}`, { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri } })
      await app.sessions.broadcast(JSON.stringify({ kind: 'resource', uri }))
    },
    /** Tells clients a list (tools, prompts or resources) changed. */
    async listChanged (kind: ListKind): Promise<void> {
      await toSessions(`list:${kind}`, { jsonrpc: '2.0', method: `notifications/${kind}/list_changed` })
      await app.sessions.broadcast(JSON.stringify({ kind: 'list', list: kind }))
    }
  }

  return {
    instructions: opts.instructions,
    changes,
    clientRequests,
    requestStates,
    listeners,
    tasks,
    taskRunner,
    elicitations,
    /** Derived from what is registered, again after the host changes a registry (app.dataPulse). */
    capabilities: (): Record<string, unknown> => capabilitiesOf(),
    refreshCapabilities (): void { capabilities = undefined },

    /** Runs one request through the method table; throws RpcError for protocol errors. */
    async dispatch (mc: MethodContext, method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
      const needs = METHOD_CAPABILITY[method]
      const handler = Object.hasOwn(methods, method) && (!needs || capabilitiesOf()[needs]) ? methods[method] : undefined
      if (!handler) throw new RpcError(ErrorCodes.methodNotFound, `method "${clip(method)}" is not supported`, undefined, 404)
      const meta = params._meta
      const name = typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined
      return traced({
        method,
        name,
        requestId: mc.requestId ?? undefined,
        sessionId: mc.sessionId || undefined,
        protocolVersion: mc.era === '2026' ? '2026-07-28' : undefined,
        meta: meta !== null && typeof meta === 'object' ? meta as Record<string, unknown> : undefined,
        headers: mc.headers
      }, () => handler(mc, params))
    }
  }
}

export type Mcp = ReturnType<typeof createMcp>

declare module 'fastify' {
  interface FastifyInstance {
    mcp: Mcp
  }
}

export default fp(async function mcpPlugin (fastify: FastifyInstance, opts: McpPluginOptions) {
  const mcp = createMcp(fastify, opts)
  fastify.decorate('mcp', mcp)
  // Open listen streams end before the server closes, or close() waits on them.
  fastify.addHook('preClose', async () => {
    mcp.listeners.endAll()
    // After the calls plugin's drain (registered before): tasks it ended are filed as failed.
    await mcp.taskRunner.drain()
  })
  fastify.addHook('onClose', async () => {
    mcp.listeners.close()
    mcp.taskRunner.close()
  })
}, {
  name: 'datapulse-mcp',
  fastify: '5.x',
  dependencies: ['datapulse-sessions', 'datapulse-tools', 'datapulse-resources', 'datapulse-prompts', 'datapulse-calls']
})
