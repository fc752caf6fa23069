import fp from 'fastify-plugin'
import { Kind, type TObject } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { Value } from '@sinclair/typebox/value'
import type { FastifyInstance } from 'fastify'
import { PromptError, type AnyPrompt } from '../lib/prompt.js'

export { PromptError } from '../lib/prompt.js'
import type { ToolContext } from '../lib/tool.js'
import type { PromptMessage } from '../lib/mcp/types.js'
import { minTtl } from './resources.js'
import { checkScopes } from '../lib/security/scopes.js'


interface Registered {
  def: AnyPrompt
  check?: TypeCheck<TObject>
  info: Record<string, unknown>
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/

/** Prompts: what `prompts/list` publishes and `prompts/get` renders. */
export function createPromptRegistry () {
  const prompts = new Map<string, Registered>()
  let listing: Array<Record<string, unknown>> = []

  const relist = () => { listing = [...prompts.values()].map((p) => p.info) }

  function add (def: AnyPrompt): void {
    if (typeof def?.name !== 'string' || !NAME.test(def.name)) throw new Error(`prompt name ${JSON.stringify(def?.name)} must match ${NAME}`)
    if (prompts.has(def.name)) throw new Error(`prompt "${def.name}" is registered twice`)
    if (typeof def.get !== 'function') throw new Error(`prompt "${def.name}" needs a get function`)
    if (def.arguments !== undefined && def.arguments?.[Kind] !== 'Object') throw new Error(`prompt "${def.name}" arguments must be a TypeBox Type.Object`)
    checkScopes('prompt', def.name, def.scopes)
    const info: Record<string, unknown> = { name: def.name }
    if (def.title) info.title = def.title
    if (def.description) info.description = def.description
    if (def.icons) info.icons = def.icons
    if (def.arguments) {
      const required = new Set(def.arguments.required ?? [])
      info.arguments = Object.entries(def.arguments.properties).map(([name, schema]) => {
        const arg: Record<string, unknown> = { name }
        if (typeof schema.title === 'string') arg.title = schema.title
        if (typeof schema.description === 'string') arg.description = schema.description
        if (required.has(name)) arg.required = true
        return arg
      })
    }
    for (const name of Object.keys(def.complete ?? {})) {
      if (!def.arguments?.properties[name]) throw new Error(`prompt "${def.name}" completes unknown argument "${name}"`)
    }
    prompts.set(def.name, { def, check: def.arguments ? TypeCompiler.Compile(def.arguments) : undefined, info })
    relist()
  }

  async function get (name: string, args: unknown, ctx: ToolContext): Promise<{ description?: string, messages: PromptMessage[] }> {
    const p = prompts.get(name)
    if (!p) throw new PromptError(`unknown prompt "${name.length > 64 ? `${name.slice(0, 64)}…` : name}"`)
    let value: unknown = args ?? {}
    if (p.def.arguments && p.check) {
      value = Value.Default(p.def.arguments, Value.Clone(value))
      if (!p.check.Check(value)) {
        const first = p.check.Errors(value).First()
        const where = first?.path ? `argument ${first.path.slice(1)}` : 'arguments'
        throw new PromptError(`${name}: ${where}: ${first?.message ?? 'invalid'}`)
      }
    }
    const out = await p.def.get(value as never, ctx)
    const result = Array.isArray(out) ? { messages: out } : out
    if (result.description === undefined && p.def.description) return { description: p.def.description, messages: result.messages }
    return result
  }

  return {
    add,
    get,
    remove (name: string): boolean {
      if (!prompts.delete(name)) return false
      relist()
      return true
    },
    list: () => listing,
    count: () => prompts.size,
    /** The scopes prompt `name` needs (none for an unknown prompt: it answers its own error). */
    scopesOf: (name: string): string[] => prompts.get(name)?.def.scopes ?? [],
    scopes: (): string[] => [...prompts.values()].flatMap((p) => p.def.scopes ?? []),
    ttlMs: () => minTtl([...prompts.values()].map((p) => p.def)),
    /** undefined: the argument exists but has no completer; null: no such prompt or argument. */
    completer (name: string, argument: string) {
      const p = prompts.get(name)
      if (!p || !p.def.arguments?.properties[argument]) return null
      return p.def.complete?.[argument]
    }
  }
}

export type PromptRegistry = ReturnType<typeof createPromptRegistry>

declare module 'fastify' {
  interface FastifyInstance {
    prompts: PromptRegistry
  }
}

export default fp(async function promptsPlugin (fastify: FastifyInstance, opts: { prompts: AnyPrompt[] }) {
  const registry = createPromptRegistry()
  for (const def of opts.prompts) registry.add(def)
  fastify.decorate('prompts', registry)
}, { name: 'datapulse-prompts', fastify: '5.x' })
