import type { Static, TObject } from '@sinclair/typebox'
import type { FastifyBaseLogger } from 'fastify'
import type { Principal } from './security/principal.js'
import type { ElicitParams, ElicitResult, Icon, LogLevel, RootsResult, SampleParams, SampleResult } from './mcp/types.js'

/**
 * What every handler (tool, resource, prompt) gets besides its arguments. The same code runs on
 * every door and in both protocol eras: progress, client logs and requests to the client go on
 * the request's own stream in the 2025 era and become `input_required` rounds in 2026-07-28.
 */
export interface ToolContext {
  principal: Principal
  /** The session id; empty under the stateless 2026-07-28 revision. */
  sessionId: string
  /** Fires when the client cancels or disconnects, or the tool's time runs out. */
  signal: AbortSignal
  /** The server's own log (never sent to the client). */
  log: FastifyBaseLogger
  /** Reports progress when the client asked for it (a progressToken); otherwise does nothing. */
  progress (progress: number, total?: number, message?: string): Promise<void>
  /** Sends `notifications/message` to the client, filtered by the level it set. */
  clientLog (level: LogLevel, data: unknown, logger?: string): Promise<void>
  /** Asks the user for input through the client (form-mode elicitation). */
  elicit (params: ElicitParams, options?: AskOptions): Promise<ElicitResult>
  /** Asks the client's model for a completion (sampling). */
  sample (params: SampleParams, options?: AskOptions): Promise<SampleResult>
  /** Asks the client for its roots. */
  listRoots (options?: AskOptions): Promise<RootsResult>
  /** What the client declared it can do (elicitation, sampling, roots…). */
  clientCapabilities (): Promise<Record<string, unknown>>
  /**
   * Continues this call as a task (for a tool with `execution.taskStart: 'handler'`): the client
   * gets the task's id now and the handler's result later, through the task. Questions asked
   * before this are answered within the call itself; questions after it, through the task.
   * Resolves at once, doing nothing, where the call cannot become a task.
   */
  runAsTask (): Promise<void>
  /** Announces changes to every client that listens (list_changed, resources/updated), on every instance. */
  changes: {
    listChanged (kind: 'tools' | 'prompts' | 'resources'): Promise<void>
    resourceUpdated (uri: string): Promise<void>
  }
}

export interface AskOptions {
  /**
   * Names this question in a 2026-07-28 `input_required` result (its `inputRequests` key).
   * Defaults to the method and the question's position in the call; give stable names when
   * the questions a handler asks depend on earlier answers.
   */
  key?: string
}

export interface ToolAnnotations {
  title?: string
  readOnlyHint?: boolean
  destructiveHint?: boolean
  idempotentHint?: boolean
  openWorldHint?: boolean
}

export interface ToolDefinition<S extends TObject = TObject, R = unknown> {
  name: string
  title?: string
  description: string
  /** TypeBox object schema of the arguments; also what `list_tools`/`tools/list` publish. */
  input: S
  /** TypeBox object schema of the structured result; results are checked against it. */
  output?: TObject
  annotations?: ToolAnnotations
  icons?: Icon[]
  /** OAuth scopes a caller needs; without them the call is refused with 403 insufficient_scope. */
  scopes?: string[]
  /** Overrides the server-wide tool timeout. */
  timeoutMs?: number
  /** 2026-07-28 list caching hints for this tool's listing (the smallest wins). */
  ttlMs?: number
  /**
   * Long-running work as a task (the tasks extension, SEP-2663): 'optional' runs as a task for
   * clients that support tasks and as a plain call for the rest; 'required' refuses clients that
   * do not (-32021). A task starts with the call unless `taskStart` is 'handler', where it starts
   * when the handler calls `ctx.runAsTask()`.
   */
  execution?: { taskSupport: 'optional' | 'required', taskStart?: 'call' | 'handler' }
  /** Releases what the tool holds (connection pools…) when the app closes. */
  close? (): Promise<void>
  /**
   * Returns a plain value (sent as JSON text plus structuredContent), a string, an array of
   * content blocks, or a whole result `{ content, structuredContent?, isError? }`.
   */
  // Method syntax on purpose: a tool with a specific schema stays assignable to AnyTool.
  handler (args: Static<S>, ctx: ToolContext): R | Promise<R>
}

/** A tool of any schema, as the registry holds it. */
export type AnyTool = ToolDefinition<TObject, unknown>

/** Declares a tool; the handler's `args` type is inferred from `input`. */
export function defineTool<S extends TObject, R> (definition: ToolDefinition<S, R>): ToolDefinition<S, R> {
  return definition
}

export type ToolErrorCode = 'unknown_tool' | 'invalid_arguments' | 'tool_failed' | 'tool_timeout' | 'cancelled' | 'insufficient_scope'

const TOOL_ERROR_CODES: ReadonlySet<string> = new Set<ToolErrorCode>(['unknown_tool', 'invalid_arguments', 'tool_failed', 'tool_timeout', 'cancelled', 'insufficient_scope'])

/**
 * A failed tool call whose message is meant for the client: an error frame (envelope) or an
 * isError result / -32602 (MCP). Any other error a handler throws reaches the client only as
 * "internal error" with an error id; its text, which may hold hosts or credentials, goes to the log.
 *
 * `new ToolError('quota exceeded')` is a `tool_failed` with that message;
 * `new ToolError('invalid_arguments', 'date must be in the past')` names the code.
 */
export class ToolError extends Error {
  override name = 'ToolError'
  readonly code: ToolErrorCode
  constructor (message: string, options?: { cause?: unknown })
  constructor (code: ToolErrorCode, message: string, options?: { cause?: unknown })
  constructor (codeOrMessage: string, messageOrOptions?: string | { cause?: unknown }, options?: { cause?: unknown }) {
    const coded = typeof messageOrOptions === 'string'
    super(coded ? messageOrOptions : codeOrMessage, coded ? options : messageOrOptions)
    // From JavaScript a lone code is still a code (its message the code), an unknown one a failure.
    this.code = TOOL_ERROR_CODES.has(codeOrMessage) ? codeOrMessage as ToolErrorCode : 'tool_failed'
  }
}
