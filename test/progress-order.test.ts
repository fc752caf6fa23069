import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import { Type } from '@sinclair/typebox'
import { defineTool } from '../index.js'
import { AUTH } from './helper.js'
import { eachStore } from './stores.js'

// The SDK handles a notification a microtask after it parses it, but a response at once: when
// the last progress and the result arrive in one network read, the result unregisters the
// progress handler first and the progress is dropped ("unknown token"). The server writes a
// response after a notification in a write of its own, so every progress notification counts.
const burst = defineTool({
  name: 'burst',
  description: 'Reports progress and answers at once, with nothing in between',
  input: Type.Object({ steps: Type.Integer() }),
  handler: async ({ steps }, ctx) => {
    for (let i = 1; i <= steps; i++) await ctx.progress(i, steps)
    return 'done'
  }
})

// Rounds of calls at once, within the 16 a session may run concurrently.
const ROUNDS = 3
const AT_ONCE = 12

eachStore('every progress notification reaches the SDK client before its result', async (t, start) => {
  const srv = await start({ tools: [burst], builtinTools: false })
  t.teardown(srv.close)
  const transports: Array<[string, () => Transport]> = [
    ['HTTP+SSE', () => new SSEClientTransport(new URL(`${srv.url}/sse`), { requestInit: { headers: AUTH }, eventSourceInit: { fetch: (url, init) => fetch(url, { ...init, headers: { ...init?.headers, ...AUTH } }) } })],
    ['Streamable HTTP', () => new StreamableHTTPClientTransport(new URL(`${srv.url}/mcp`), { requestInit: { headers: AUTH } })]
  ]
  for (const [name, make] of transports) {
    const client = new Client({ name: 'progress-order', version: '1.0.0' })
    await client.connect(make())
    t.teardown(() => client.close())
    let seen = 0
    let results = 0
    for (let round = 0; round < ROUNDS; round++) {
      results += (await Promise.all(Array.from({ length: AT_ONCE }, () =>
        client.callTool({ name: 'burst', arguments: { steps: 3 } }, undefined, { onprogress: () => { seen++ } })))).length
    }
    t.equal(results, ROUNDS * AT_ONCE)
    t.equal(seen, ROUNDS * AT_ONCE * 3, `${name}: ${ROUNDS * AT_ONCE} calls × 3 progress notifications, none dropped`)
  }
})
