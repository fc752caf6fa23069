import type { Static, TObject } from '@sinclair/typebox'
import type { FastifyBaseLogger } from 'fastify'
import type { Principal } from '../plugins/auth.js'

/** What a tool handler gets besides its arguments. */
export interface ToolContext {
  principal: Principal
  sessionId: string
  /** Fires when the client cancels or disconnects, or the tool's time runs out. */
  signal: AbortSignal
  log: FastifyBaseLogger
}

export interface ToolDefinition<S extends TObject = TObject, R = unknown> {
  name: string
  description: string
  /** TypeBox object schema of the arguments; also what `list_tools`/`tools/list` publish. */
  input: S
  /** Overrides the server-wide tool timeout. */
  timeoutMs?: number
  /** Releases what the tool holds (connection pools…) when the app closes. */
  close? (): Promise<void>
  // Method syntax on purpose: a tool with a specific schema stays assignable to AnyTool.
  handler (args: Static<S>, ctx: ToolContext): R | Promise<R>
}

/** A tool of any schema, as the registry holds it. */
export type AnyTool = ToolDefinition<TObject, unknown>

/** Declares a tool; the handler's `args` type is inferred from `input`. */
export function defineTool<S extends TObject, R> (definition: ToolDefinition<S, R>): ToolDefinition<S, R> {
  return definition
}

export type ToolErrorCode = 'unknown_tool' | 'invalid_arguments' | 'tool_failed' | 'tool_timeout' | 'cancelled'

/** A failed tool call, reported to the client as an error frame (envelope) or isError/-32602 (MCP). */
export class ToolError extends Error {
  override name = 'ToolError'
  readonly code: ToolErrorCode
  constructor (code: ToolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
