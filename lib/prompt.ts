import type { Static, TObject } from '@sinclair/typebox'
import type { Completer } from './resource.js'
import type { ToolContext } from './tool.js'
import type { Icon, PromptMessage } from './mcp/types.js'

export interface PromptDefinition<S extends TObject = TObject> {
  name: string
  title?: string
  description?: string
  icons?: Icon[]
  /** TypeBox object of string properties; published as the prompt's arguments and checked on get. */
  arguments?: S
  complete?: Record<string, Completer>
  ttlMs?: number
  /** OAuth scopes a caller needs; without them the get is refused with 403 insufficient_scope. */
  scopes?: string[]
  get (args: Static<S>, ctx: ToolContext): PromptMessage[] | { description?: string, messages: PromptMessage[] } |
  Promise<PromptMessage[] | { description?: string, messages: PromptMessage[] }>
}

export type AnyPrompt = PromptDefinition<TObject>

export function definePrompt<S extends TObject> (definition: PromptDefinition<S>): PromptDefinition<S> {
  return definition
}

/** A prompt's arguments failed its schema, or the prompt does not exist. */
export class PromptError extends Error {
  override name = 'PromptError'
}
