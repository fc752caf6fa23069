import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import { Kind, type Static, type TObject } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { Value } from '@sinclair/typebox/value'
import type { FastifyInstance } from 'fastify'
import { ToolError, type AnyTool, type ToolContext } from '../lib/tool.js'
import { minTtl } from './resources.js'
import { checkScopes } from '../lib/security/scopes.js'
import { RpcError } from '../lib/mcp/rpc.js'
import type { Lifeline } from '../lib/lifeline.js'

/** A tool as `tools/list` publishes it. */
export interface ToolInfo {
  name: string
  title?: string
  description: string
  inputSchema: Record<string, unknown>
  outputSchema?: Record<string, unknown>
  annotations?: Record<string, unknown>
  icons?: unknown[]
  execution?: { taskSupport: string }
}

export interface ToolsPluginOptions {
  tools: AnyTool[]
  timeoutMs: number
}

interface Registered {
  definition: AnyTool
  check: TypeCheck<TObject>
  /** Whether the input schema declares any default: only then are arguments copied and filled in. */
  defaults: boolean
  output?: TypeCheck<TObject>
  info: ToolInfo
}

/**
 * TypeBox's schema as plain JSON Schema for clients. A property with a default need not be sent
 * (validation fills it in), so it is not published as required.
 */
export function publishedSchema (schema: TObject): Record<string, unknown> {
  // JSON round trip drops TypeBox's symbol keys, leaving plain JSON Schema.
  const plain = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>
  const props = (plain.properties ?? {}) as Record<string, { default?: unknown }>
  if (Array.isArray(plain.required)) {
    const required = plain.required.filter((name: string) => props[name]?.default === undefined)
    if (required.length > 0) plain.required = required
    else delete plain.required
  }
  return plain
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/

/** Whether a schema (at any depth) declares a `default`. */
function declaresDefault (schema: unknown): boolean {
  if (typeof schema !== 'object' || schema === null) return false
  if (!Array.isArray(schema) && Object.hasOwn(schema, 'default')) return true
  return Object.values(schema).some(declaresDefault)
}

/** Told about every finished call: 'ok' or the ToolError code, and how long it took. */
export type CallObserver = (tool: string, outcome: string, seconds: number) => void

export function createToolRegistry (defaultTimeoutMs: number) {
  const tools = new Map<string, Registered>()
  const observers: CallObserver[] = []
  let listing: ToolInfo[] = []

  const relist = () => { listing = [...tools.values()].map((t) => t.info) }

  function register (definition: AnyTool): void {
    // A bad tool fails at start, not on its first call.
    if (typeof definition?.name !== 'string' || !NAME.test(definition.name)) {
      throw new Error(`tool name ${JSON.stringify(definition?.name)} must match ${NAME}`)
    }
    if (tools.has(definition.name)) throw new Error(`tool "${definition.name}" is registered twice`)
    checkScopes('tool', definition.name, definition.scopes)
    if (typeof definition.description !== 'string' || definition.description === '') {
      throw new Error(`tool "${definition.name}" needs a description`)
    }
    if (definition.input?.[Kind] !== 'Object') throw new Error(`tool "${definition.name}" input must be a TypeBox Type.Object`)
    if (typeof definition.handler !== 'function') throw new Error(`tool "${definition.name}" needs a handler function`)
    if (definition.output !== undefined && definition.output?.[Kind] !== 'Object') {
      throw new Error(`tool "${definition.name}" output must be a TypeBox Type.Object`)
    }
    const info: ToolInfo = { name: definition.name, description: definition.description, inputSchema: publishedSchema(definition.input) }
    if (definition.title) info.title = definition.title
    if (definition.output) info.outputSchema = publishedSchema(definition.output)
    if (definition.annotations) info.annotations = { ...definition.annotations }
    if (definition.icons) info.icons = definition.icons
    if (definition.execution) {
      const { taskSupport, taskStart } = definition.execution
      if (taskSupport !== 'optional' && taskSupport !== 'required') throw new Error(`tool "${definition.name}" execution.taskSupport must be "optional" or "required"`)
      if (taskStart !== undefined && taskStart !== 'call' && taskStart !== 'handler') throw new Error(`tool "${definition.name}" execution.taskStart must be "call" or "handler"`)
      info.execution = { taskSupport }
    }
    tools.set(definition.name, {
      definition,
      check: TypeCompiler.Compile(definition.input),
      defaults: declaresDefault(definition.input),
      output: definition.output ? TypeCompiler.Compile(definition.output) : undefined,
      info
    })
    relist()
  }

  function validate (tool: Registered, args: unknown): unknown {
    // Filling in defaults writes into the arguments, so only then are they copied first.
    const value = tool.defaults ? Value.Default(tool.definition.input, Value.Clone(args ?? {})) : args ?? {}
    if (tool.check.Check(value)) return value
    const first = tool.check.Errors(value).First()
    const where = first?.path ? `argument ${first.path.slice(1).replaceAll('/', '.')}` : 'arguments'
    throw new ToolError('invalid_arguments', `${tool.definition.name}: ${where}: ${first?.message ?? 'invalid'}`)
  }

  /**
   * Validates `args` and runs the handler under the tool's time limit, in a call slot: `line` is
   * the slot's lifeline (which ctx.signal follows); cancellation ends it, and so does a timeout.
   */
  function call (name: string, args: unknown, ctx: ToolContext, line: Lifeline, timeoutMs?: number): Promise<unknown> {
    if (observers.length === 0) return run(name, args, ctx, line, timeoutMs)
    const started = performance.now()
    const running = run(name, args, ctx, line, timeoutMs)
    const record = (outcome: string) => {
      // Unknown names are not recorded under their own label: clients choose them freely.
      const label = tools.has(name) ? name : '(unknown)'
      const seconds = (performance.now() - started) / 1000
      for (const observe of observers) observe(label, outcome, seconds)
    }
    return running.then((value) => {
      record('ok')
      return value
    }, (err: unknown) => {
      record(err instanceof ToolError ? err.code : 'tool_failed')
      throw err
    })
  }

  /** A structured result that breaks the tool's own output schema is the tool's fault. */
  function checkOutput (name: string, structured: unknown): void {
    const output = tools.get(name)?.output
    if (!output || output.Check(structured)) return
    const first = output.Errors(structured).First()
    throw new ToolError('tool_failed', `${name}: result does not match its outputSchema at ${first?.path || '/'}: ${first?.message ?? 'invalid'}`)
  }

  /** `taskTimeoutMs`: the limit of a call running as a task, unless the tool sets its own. */
  async function run (name: string, args: unknown, ctx: ToolContext, lifeline: Lifeline, taskTimeoutMs?: number): Promise<unknown> {
    const tool = tools.get(name)
    // Client-chosen names are cut before they are echoed: errors never amplify input.
    if (!tool) throw new ToolError('unknown_tool', `unknown tool "${name.length > 64 ? `${name.slice(0, 64)}…` : name}"`)
    const valid = validate(tool, args)
    if (lifeline.aborted) throw new ToolError('cancelled', `${name}: cancelled before it started`)
    const timeoutMs = tool.definition.timeoutMs ?? taskTimeoutMs ?? defaultTimeoutMs
    let timedOut = false
    const failure = () => timedOut
      ? new ToolError('tool_timeout', `${name}: timed out after ${timeoutMs} ms`)
      : new ToolError('cancelled', `${name}: cancelled`)
    let timer: NodeJS.Timeout | undefined
    let unsubscribe: (() => void) | undefined
    try {
      const out = tool.definition.handler(valid as Static<TObject>, ctx)
      // A synchronous result needs no timer, no listener and no race.
      if (!(out instanceof Promise)) return out
      const aborted = new Promise<never>((_resolve, reject) => {
        unsubscribe = lifeline.onAbort(() => reject(failure()))
        timer = setTimeout(() => { timedOut = true; lifeline.abort(new Error('timeout')) }, timeoutMs)
      })
      return await Promise.race([out, aborted])
    } catch (err) {
      if (lifeline.aborted) throw failure()
      if (err instanceof ToolError) throw err
      // A protocol error from a request to the client (elicit, sample) keeps its shape.
      if (err instanceof RpcError) throw new ToolError('tool_failed', `${name}: ${err.message}`, { cause: err })
      // Anything else may carry hosts, paths or credentials: the client gets an id to quote,
      // the log gets the error under it.
      const errorId = randomUUID()
      ctx.log.warn({ err, errorId, tool: name }, 'tool call failed')
      throw new ToolError('tool_failed', `${name}: internal error (error id ${errorId})`, { cause: err })
    } finally {
      clearTimeout(timer)
      unsubscribe?.()
    }
  }

  /** Removes a tool; calls already running finish. False when there was none by that name. */
  function remove (name: string): boolean {
    if (!tools.delete(name)) return false
    relist()
    return true
  }

  return {
    register,
    remove,
    list: (): ToolInfo[] => listing,
    has: (name: string): boolean => tools.has(name),
    /** The smallest caching hint among tools that set one. */
    ttlMs: (): number | undefined => minTtl([...tools.values()].map((t) => t.definition)),
    get: (name: string): AnyTool | undefined => tools.get(name)?.definition,
    checkOutput,
    observe: (observer: CallObserver): void => { observers.push(observer) },
    call
  }
}

export type ToolRegistry = ReturnType<typeof createToolRegistry>

declare module 'fastify' {
  interface FastifyInstance {
    tools: ToolRegistry
  }
}

export default fp(async function toolsPlugin (fastify: FastifyInstance, opts: ToolsPluginOptions) {
  const registry = createToolRegistry(opts.timeoutMs)
  for (const tool of opts.tools) registry.register(tool)
  fastify.decorate('tools', registry)
  fastify.addHook('onClose', async () => {
    await Promise.all(opts.tools.map((tool) => tool.close?.()))
  })
}, { name: 'datapulse-tools', fastify: '5.x' })
