import { Type } from '@sinclair/typebox'
import { defineTool } from '../lib/tool.js'
import { everything } from '../examples/everything.js'
import type { DataPulseOptions } from '../app.js'

/** The everything fixture's definitions without the built-in tools, for in-process servers. */
export function everythingOptions (extra: DataPulseOptions = {}): DataPulseOptions {
  return { ...everything, builtinTools: false, ...extra }
}

/** Waits until `predicate` holds, polling; fails with `what` after `timeoutMs`. */
export async function until (predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export const text = (result: { content?: unknown }): string =>
  ((result.content ?? []) as Array<{ type: string, text?: string }>).filter((c) => c.type === 'text').map((c) => c.text).join('\n')

/** A JSON-RPC request body. */
export function rpc (method: string, params: Record<string, unknown> = {}, id: number | string = 1) {
  return { jsonrpc: '2.0', id, method, params }
}

/** A tool that answers after `ms` milliseconds (with its tag, when given) and honours its signal. */
export const sleepTool = defineTool({
  name: 'sleep',
  description: 'answers after ms milliseconds',
  input: Type.Object({ ms: Type.Integer({ minimum: 0, maximum: 10_000 }), tag: Type.Optional(Type.String()) }),
  handler: ({ ms, tag }, ctx) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(tag === undefined ? `slept ${ms}` : { tag }), ms)
    ctx.signal.addEventListener('abort', () => { clearTimeout(timer); reject(new Error('aborted')) })
  })
})
