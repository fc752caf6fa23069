import { Type } from '@sinclair/typebox'
import { defineTool } from '../lib/tool.js'

/** Tools for reliability tests: a sleeper that records aborts, and a producer of big frames. */
export function testTools () {
  const aborted: string[] = []
  const sleep = defineTool({
    name: 'sleep',
    description: 'answers {tag} after ms milliseconds',
    input: Type.Object({ ms: Type.Integer({ minimum: 0 }), tag: Type.String() }),
    handler: ({ ms, tag }, ctx) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve({ tag }), ms)
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer)
        aborted.push(tag)
        reject(new Error('aborted'))
      }, { once: true })
    })
  })
  const blob = defineTool({
    name: 'blob',
    description: 'returns a string of size bytes',
    input: Type.Object({ size: Type.Integer({ minimum: 0, maximum: 60_000 }) }),
    handler: ({ size }) => ({ blob: 'x'.repeat(size) })
  })
  return { tools: [sleep, blob], aborted }
}
