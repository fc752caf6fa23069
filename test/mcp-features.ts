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
