import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import { AUTH } from './helper.js'
import { eachStore, type Test } from './stores.js'

async function session (t: Test, transport: Transport) {
  const client = new Client({ name: 'datapulse-test', version: '1.0.0' })
  await client.connect(transport)
  t.teardown(() => client.close())
  t.equal(client.getServerVersion()?.name, 'datapulse-sse', 'serverInfo from package.json')
  t.ok(client.getServerCapabilities()?.tools, 'tools capability')

  const { tools } = await client.listTools()
  t.same(tools.map((tool) => tool.name).sort(), ['fetch_url', 'get_time'])
  const fetchUrl = tools.find((tool) => tool.name === 'fetch_url')!
  t.equal(fetchUrl.inputSchema.type, 'object')
  t.same(fetchUrl.inputSchema.required, ['url'], 'inputSchema straight from the TypeBox schema')

  const time = await client.callTool({ name: 'get_time', arguments: {} })
  t.notOk(time.isError)
  const structured = time.structuredContent as { time: string }
  t.match(structured.time, /^\d{4}-\d\d-\d\dT.*Z$/)
  const content = time.content as Array<{ type: string, text: string }>
  t.same(JSON.parse(content[0].text), structured, 'text content mirrors structuredContent')

  await t.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), { code: -32602 }, 'unknown tool → -32602')
  const bad = await client.callTool({ name: 'fetch_url', arguments: { url: 7 } }) as { isError?: boolean, content: Array<{ text: string }> }
  t.equal(bad.isError, true, 'bad arguments are a tool error the model can read (SEP-1303), not a protocol error')
  t.match(bad.content[0].text, /fetch_url: argument url: /, 'naming the argument')

  const blocked = await client.callTool({ name: 'fetch_url', arguments: { url: 'http://127.0.0.1:1/' } })
  t.equal(blocked.isError, true, 'a failing tool is a result with isError')
  t.match((blocked.content as Array<{ text: string }>)[0].text, /not allowed/)
  await client.ping()
  await client.close()
}

eachStore('official SDK client over HTTP+SSE (2024-11-05)', async (t, start) => {
  const srv = await start()
  t.teardown(srv.close)
  await session(t, new SSEClientTransport(new URL(`${srv.url}/sse`), { requestInit: { headers: AUTH } }))
})

eachStore('official SDK client over Streamable HTTP', async (t, start) => {
  const srv = await start()
  t.teardown(srv.close)
  await session(t, new StreamableHTTPClientTransport(new URL(`${srv.url}/mcp`), { requestInit: { headers: AUTH } }))
})

eachStore('the SDK client is refused without a token', async (t, start) => {
  const srv = await start()
  t.teardown(srv.close)
  const client = new Client({ name: 'anon', version: '1.0.0' })
  await t.rejects(client.connect(new StreamableHTTPClientTransport(new URL(`${srv.url}/mcp`))), /401|Unauthorized/i)
})
