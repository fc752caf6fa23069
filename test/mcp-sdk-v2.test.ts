import { Client, StreamableHTTPClientTransport, SSEClientTransport, type Transport } from '@modelcontextprotocol/client'
import { AUTH } from './helper.js'
import { everythingOptions, text, until } from './mcp-features.js'
import { eachStore, type Test } from './stores.js'

/** The v2 SDK client in its 2025-era mode (initialize handshake), answering server requests. */
async function connect (t: Test, transport: Transport) {
  const client = new Client({ name: 'v2-test', version: '2.0.0' }, { capabilities: { sampling: {}, elicitation: {}, roots: {} } })
  const errors: unknown[] = []
  client.onerror = (err) => errors.push(err)
  client.setRequestHandler('sampling/createMessage', async () => ({ role: 'assistant', model: 'm', content: { type: 'text', text: 'v2 model answer' } }))
  client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { username: 'zoe', email: 'zoe@example.com' } }))
  client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }))
  await client.connect(transport)
  t.teardown(() => client.close())
  return { client, errors }
}

async function features (t: Test, transport: Transport, legacySse = false) {
  const { client, errors } = await connect(t, transport)
  t.ok((await client.listTools()).tools.some((tool) => tool.name === 'test_simple_text'))
  t.equal(text(await client.callTool({ name: 'test_simple_text', arguments: {} })), 'This is a simple text response for testing.')
  t.equal(((await client.readResource({ uri: 'test://static-text' })).contents[0] as { text: string }).text,
    'This is the content of the static text resource.')
  t.ok((await client.listPrompts()).prompts.length >= 4)
  t.match(JSON.stringify((await client.getPrompt({ name: 'test_simple_prompt' })).messages), /simple prompt/)
  t.same((await client.complete({ ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'oth' } })).completion.values, ['other'])
  if (!legacySse) {
    // Over HTTP+SSE the SDK's EventSource dispatches a chunk's events synchronously but runs
    // progress handlers a microtask later: a last progress sharing a chunk with the result is
    // then "unknown" to the client (a client-side race; see test/mcp-sdk-v1.test.ts).
    const progress: number[] = []
    await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, { onprogress: (p) => { progress.push(p.progress) } })
    t.same(progress, [0, 50, 100], 'onprogress')
  }
  const logs: unknown[] = []
  client.setNotificationHandler('notifications/message', (n) => { logs.push(n.params.data) })
  await client.setLoggingLevel('debug')
  await client.callTool({ name: 'test_tool_with_logging', arguments: {} })
  await until(() => logs.length === 3, 'three log messages')
  t.match(text(await client.callTool({ name: 'test_elicitation', arguments: {} })), /zoe@example.com/, 'elicitation')
  t.match(text(await client.callTool({ name: 'test_sampling', arguments: {} })), /v2 model answer/, 'sampling')
  t.match(text(await client.callTool({ name: 'test_input_required_result_list_roots', arguments: {} })), /file:\/\/\/work/, 'roots')
  t.same(errors, [], 'no client error over the whole session')
}

eachStore('SDK v2 (2025 era) over Streamable HTTP', async (t, start) => {
  const srv = await start(everythingOptions())
  t.teardown(srv.close)
  await features(t, new StreamableHTTPClientTransport(new URL(`${srv.url}/mcp`), { requestInit: { headers: AUTH } }))
})

eachStore('SDK v2 (2025 era) over HTTP+SSE', async (t, start) => {
  const srv = await start(everythingOptions())
  t.teardown(srv.close)
  await features(t, new SSEClientTransport(new URL(`${srv.url}/sse`), { requestInit: { headers: AUTH } }), true)
})
