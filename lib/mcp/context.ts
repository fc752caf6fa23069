import type { FastifyBaseLogger } from 'fastify'
import type { Principal } from '../../plugins/auth.js'
import { Lifeline } from '../lifeline.js'
import type { AskOptions, ToolContext } from '../tool.js'
import { elicitationProblem } from './elicit-check.js'
import { isObject, RpcError } from './rpc.js'
import { LOG_LEVELS, type ElicitParams, type ElicitResult, type LogLevel, type RootsResult, type SampleParams, type SampleResult } from './types.js'
import { ErrorCodes } from '../../schemas/jsonrpc.js'

/**
 * How a request reaches its client: a door's framing. Every door supplies one per request, and
 * the call context below is all a handler sees, so handlers never know their door or era.
 */
export interface Channel {
  /** Sends a notification that belongs to this request (progress, client log). */
  notify (method: string, params: Record<string, unknown>): Promise<void>
  /** Asks the client something on behalf of this request; absent where a door cannot ask. */
  request?: (method: string, params: Record<string, unknown>, signal: AbortSignal, key: string) => Promise<unknown>
}

export interface CallScope {
  principal: Principal
  sessionId: string
  /**
   * Ends the request early (the client went away; for a tool call, its call slot's lifeline).
   * Absent where nothing can: on HTTP+SSE the POST is not the request's lifetime.
   */
  lifeline?: Lifeline
  log: FastifyBaseLogger
  /** null where the client cannot be reached during a call (the envelope). */
  channel: Channel | null
  progressToken?: string | number
  /** The lowest level the client wants to see, or null when it asked for no logs. */
  logLevel: () => Promise<LogLevel | null>
  clientCapabilities: () => Promise<Record<string, unknown>>
  changes: ToolContext['changes']
}

/** A request needing a client capability the client did not declare (-32021 in 2026-07-28). */
export function missingCapability (name: string): RpcError {
  return new RpcError(ErrorCodes.missingCapability, `the client did not declare the ${name} capability`,
    { requiredCapabilities: { [name]: {} } }, 400)
}

const noClient = (what: string) => new RpcError(ErrorCodes.invalidRequest, `${what} is not available on this transport`)

export function createCallContext (scope: CallScope): ToolContext {
  const { channel } = scope
  const line = scope.lifeline ?? new Lifeline()
  // Questions are numbered in the order a handler asks them, so a re-run asks the same keys.
  let asked = 0
  async function ask (capability: string, method: string, params: Record<string, unknown>, options?: AskOptions): Promise<unknown> {
    const key = options?.key ?? `${method.split('/')[0]}-${asked}`
    asked++
    if (!channel?.request) throw noClient(method)
    const caps = await scope.clientCapabilities()
    if (caps[capability] === undefined || caps[capability] === null) throw missingCapability(capability)
    return channel.request(method, params, line.signal, key)
  }
  return {
    principal: scope.principal,
    sessionId: scope.sessionId,
    // Made on first use: most handlers never look at it.
    get signal () { return line.signal },
    log: scope.log,
    async progress (progress, total, message) {
      if (!channel || scope.progressToken === undefined || line.aborted) return
      const params: Record<string, unknown> = { progressToken: scope.progressToken, progress }
      if (total !== undefined) params.total = total
      if (message !== undefined) params.message = message
      await channel.notify('notifications/progress', params)
    },
    async clientLog (level, data, logger) {
      if (!channel || line.aborted) return
      const min = await scope.logLevel()
      if (min === null || LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(min)) return
      await channel.notify('notifications/message', logger === undefined ? { level, data } : { level, logger, data })
    },
    clientCapabilities: scope.clientCapabilities,
    changes: scope.changes,
    async elicit (params: ElicitParams, options?: AskOptions): Promise<ElicitResult> {
      const result = await ask('elicitation', 'elicitation/create', { mode: 'form', ...params }, options) as ElicitResult
      if (result?.action === 'accept') {
        const problem = elicitationProblem(params.requestedSchema, result.content)
        if (problem) throw new RpcError(ErrorCodes.invalidParams, `elicitation answer does not match requestedSchema: ${problem}`)
      } else if (result?.action !== 'decline' && result?.action !== 'cancel') {
        throw new RpcError(ErrorCodes.invalidParams, 'elicitation answer needs action accept, decline or cancel')
      }
      return result
    },
    async sample (params: SampleParams, options?: AskOptions): Promise<SampleResult> {
      const result = await ask('sampling', 'sampling/createMessage', { ...params }, options) as SampleResult
      if (!isObject(result) || result.content === undefined) throw new RpcError(ErrorCodes.invalidParams, 'sampling answer needs content')
      return result
    },
    async listRoots (options?: AskOptions): Promise<RootsResult> {
      const result = await ask('roots', 'roots/list', {}, options) as RootsResult
      if (!isObject(result) || !Array.isArray(result.roots)) throw new RpcError(ErrorCodes.invalidParams, 'roots answer needs a roots array')
      return result
    }
  }
}
