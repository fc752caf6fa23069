import type { FastifyBaseLogger } from 'fastify'
import type { Principal } from '../security/principal.js'
import { Lifeline } from '../lifeline.js'
import type { AskOptions, ToolContext } from '../tool.js'
import { elicitationProblem } from './elicit-check.js'
import { isObject, RpcError } from './rpc.js'
import { urlQuestion } from './url-elicitation.js'
import { LOG_LEVELS, type ElicitParams, type ElicitResult, type ElicitUrlParams, type LogLevel, type RootsResult, type SampleParams, type SampleResult } from './types.js'
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
  /** Turns the call into a task (ctx.runAsTask); absent where it cannot become one. */
  becomeTask?: () => Promise<void>
  /** The protocol era of the request (how URL-mode elicitations are shaped); 2025 when absent. */
  era?: '2025' | '2026'
  /** Where a 2025-era URL-mode elicitation is remembered for its completion notification. */
  elicitations?: { register (elicitationId: string, sessionId: string): Promise<void> }
}

/** A request needing a client capability the client did not declare (-32021 in 2026-07-28). */
export function missingCapability (name: string): RpcError {
  return new RpcError(ErrorCodes.missingCapability, `the client did not declare the ${name} capability`,
    { requiredCapabilities: { [name]: {} } }, 400)
}

const noClient = (what: string) => new RpcError(ErrorCodes.invalidRequest, `${what} is not available on this transport`)

/**
 * What a handler sees of its request. A class, not an object literal of closures: a literal with a
 * getter (the lazy `signal`) is a dictionary-mode object that V8 came to allocate in old space under
 * load, where it held every call's closures past the young GC (~2 MB promoted per scavenge).
 */
class CallContext implements ToolContext {
  readonly principal: Principal
  readonly sessionId: string
  readonly log: FastifyBaseLogger
  readonly changes: ToolContext['changes']
  readonly #scope: CallScope
  readonly #line: Lifeline
  // Questions are numbered in the order a handler asks them, so a re-run asks the same keys.
  #asked = 0

  constructor (scope: CallScope, lifeline: Lifeline | undefined) {
    this.principal = scope.principal
    this.sessionId = scope.sessionId
    this.log = scope.log
    this.changes = scope.changes
    this.#scope = scope
    this.#line = lifeline ?? scope.lifeline ?? new Lifeline()
  }

  // Made on first use: most handlers never look at it.
  get signal (): AbortSignal { return this.#line.signal }

  clientCapabilities (): Promise<Record<string, unknown>> { return this.#scope.clientCapabilities() }

  async runAsTask (): Promise<void> { await this.#scope.becomeTask?.() }

  async progress (progress: number, total?: number, message?: string): Promise<void> {
    const { channel, progressToken } = this.#scope
    if (!channel || progressToken === undefined || this.#line.aborted) return
    const params: Record<string, unknown> = { progressToken, progress }
    if (total !== undefined) params.total = total
    if (message !== undefined) params.message = message
    await channel.notify('notifications/progress', params)
  }

  async clientLog (level: LogLevel, data: unknown, logger?: string): Promise<void> {
    const { channel } = this.#scope
    if (!channel || this.#line.aborted) return
    const min = await this.#scope.logLevel()
    if (min === null || LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(min)) return
    await channel.notify('notifications/message', logger === undefined ? { level, data } : { level, logger, data })
  }

  async elicit (params: ElicitParams, options?: AskOptions): Promise<ElicitResult> {
    if (params.mode === 'url') return this.#elicitUrl(params, options)
    const result = await this.#ask('elicitation', 'elicitation/create', { mode: 'form', ...params }, options) as ElicitResult
    if (result?.action === 'accept') {
      const problem = elicitationProblem(params.requestedSchema, result.content)
      if (problem) throw new RpcError(ErrorCodes.invalidParams, `elicitation answer does not match requestedSchema: ${problem}`)
    } else if (result?.action !== 'decline' && result?.action !== 'cancel') {
      throw new RpcError(ErrorCodes.invalidParams, 'elicitation answer needs action accept, decline or cancel')
    }
    return result
  }

  async #elicitUrl (params: ElicitUrlParams, options?: AskOptions): Promise<ElicitResult> {
    const era = this.#scope.era ?? '2025'
    const question = urlQuestion(params, era)
    const caps = await this.#scope.clientCapabilities()
    if (!isObject(caps.elicitation) || !isObject(caps.elicitation.url)) {
      throw new RpcError(ErrorCodes.missingCapability, 'the client did not declare URL-mode elicitation (elicitation.url)',
        { requiredCapabilities: { elicitation: { url: {} } } }, 400)
    }
    const id = question.elicitationId as string | undefined
    if (id && this.#scope.sessionId) await this.#scope.elicitations?.register(id, this.#scope.sessionId)
    const result = await this.#ask('elicitation', 'elicitation/create', question, options) as ElicitResult
    if (result?.action !== 'accept' && result?.action !== 'decline' && result?.action !== 'cancel') {
      throw new RpcError(ErrorCodes.invalidParams, 'elicitation answer needs action accept, decline or cancel')
    }
    return id ? { action: result.action, elicitationId: id } : { action: result.action }
  }

  async sample (params: SampleParams, options?: AskOptions): Promise<SampleResult> {
    const result = await this.#ask('sampling', 'sampling/createMessage', { ...params }, options) as SampleResult
    if (!isObject(result) || result.content === undefined) throw new RpcError(ErrorCodes.invalidParams, 'sampling answer needs content')
    return result
  }

  async listRoots (options?: AskOptions): Promise<RootsResult> {
    const result = await this.#ask('roots', 'roots/list', {}, options) as RootsResult
    if (!isObject(result) || !Array.isArray(result.roots)) throw new RpcError(ErrorCodes.invalidParams, 'roots answer needs a roots array')
    return result
  }

  async #ask (capability: string, method: string, params: Record<string, unknown>, options?: AskOptions): Promise<unknown> {
    const key = options?.key ?? `${method.split('/')[0]}-${this.#asked}`
    this.#asked++
    const { channel } = this.#scope
    if (!channel?.request) throw noClient(method)
    const caps = await this.#scope.clientCapabilities()
    if (caps[capability] === undefined || caps[capability] === null) throw missingCapability(capability)
    return channel.request(method, params, this.#line.signal, key)
  }
}

/** `lifeline`, when given, ends the call instead of the scope's own (a tool call's slot). */
export function createCallContext (scope: CallScope, lifeline?: Lifeline): ToolContext {
  return new CallContext(scope, lifeline)
}
