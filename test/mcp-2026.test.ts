import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import t from 'tap'
import { AUTH, request, startApp } from './helper.js'
import { everythingOptions, text, until } from './mcp-features.js'
import type { Test } from './stores.js'

type Mode = { pin: '2026-07-28' } | 'auto'

/** An SDK v2 client negotiating the stateless revision, answering elicitation and sampling. */
async function modern (t: Test, url: string, mode: Mode, headers: Record<string, string> = AUTH) {
  const client = new Client({ name: 'v2-modern', version: '2.0.0' }, {
    capabilities: { elicitation: { form: {} }, sampling: {} },
    versionNegotiation: { mode }
  })
  const errors: unknown[] = []
  client.onerror = (err) => errors.push(err)
  client.setRequestHandler('elicitation/create', async (req) => {
    const props = (req.params as { requestedSchema: { properties: Record<string, unknown> } }).requestedSchema.properties
    return { action: 'accept', content: 'color' in props ? { color: 'teal' } : { name: 'Ada' } }
  })
  client.setRequestHandler('sampling/createMessage', async () => ({ role: 'assistant', model: 'm', content: { type: 'text', text: 'Paris' } }))
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }))
  t.teardown(() => client.close())
  return { client, errors }
}

for (const mode of [{ pin: '2026-07-28' }, 'auto'] as Mode[]) {
  t.test(`SDK v2 in ${JSON.stringify(mode)} mode speaks 2026-07-28`, async (t) => {
    const srv = await startApp(everythingOptions())
    t.teardown(srv.close)
    const { client, errors } = await modern(t, srv.url, mode)
    t.equal(client.getNegotiatedProtocolVersion(), '2026-07-28', 'negotiated through server/discover')
    t.ok((await client.listTools()).tools.some((tool) => tool.name === 'test_simple_text'), 'tools/list')
    t.equal(text(await client.callTool({ name: 'test_simple_text', arguments: {} })), 'This is a simple text response for testing.')
    const progress: number[] = []
    await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, { onprogress: (p) => { progress.push(p.progress) } })
    t.same(progress, [0, 50, 100], 'progress on the request stream')
    t.equal(text(await client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} })), 'Hello, Ada!',
      'an elicitation answered through input_required')
    t.equal(text(await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} })), 'Ada likes teal',
      'two rounds, the state carried by requestState')
    t.match(text(await client.callTool({ name: 'test_input_required_result_sampling', arguments: {} })), /Paris/, 'sampling through input_required')
    const changes: string[] = []
    const sub = await client.listen({ toolsListChanged: true, resourceSubscriptions: ['test://watched-resource'] })
    t.same(sub.honoredFilter, { toolsListChanged: true, resourceSubscriptions: ['test://watched-resource'] }, 'acknowledged')
    client.setNotificationHandler('notifications/tools/list_changed', () => { changes.push('tools') })
    client.setNotificationHandler('notifications/resources/updated', (n) => { changes.push(n.params.uri) })
    await client.callTool({ name: 'test_trigger_tool_change', arguments: {} })
    await client.callTool({ name: 'test_trigger_resource_update', arguments: {} })
    await until(() => changes.length === 2, 'two change notifications on the listen stream')
    t.same(changes.sort(), ['test://watched-resource', 'tools'])
    await sub.close()
    await client.callTool({ name: 'test_trigger_tool_change', arguments: {} })
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.equal(changes.length, 2, 'nothing more once the subscription is closed')
    t.same(errors, [], 'no client error')
  })
}

t.test('the v1 SDK client and 2025-era sessions keep working beside 2026-07-28', async (t) => {
  const { Client: V1 } = await import('@modelcontextprotocol/sdk/client/index.js')
  const { StreamableHTTPClientTransport: V1Transport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js')
  const srv = await startApp(everythingOptions())
  t.teardown(srv.close)
  const v1 = new V1({ name: 'v1', version: '1' })
  await v1.connect(new V1Transport(new URL(`${srv.url}/mcp`), { requestInit: { headers: AUTH } }))
  t.teardown(() => v1.close())
  t.equal(v1.getServerVersion()?.name, 'datapulse-sse')
  t.equal(text(await v1.callTool({ name: 'test_simple_text', arguments: {} }) as { content: unknown }), 'This is a simple text response for testing.')
})

const META = (extra: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
  ...extra
})

t.test('2026-07-28 ladder, raw: statuses, codes, no session ids, requestState integrity', async (t) => {
  const srv = await startApp(everythingOptions())
  t.teardown(srv.close)
  const call = (method: string, params: Record<string, unknown>, headers: Record<string, string> = {}) => request('POST', `${srv.url}/mcp`, {
    headers: { ...AUTH, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...headers },
    body: { jsonrpc: '2.0', id: 9, method, params }
  })
  const ok = await call('tools/list', { _meta: META() })
  t.equal(ok.status, 200)
  t.equal(ok.headers['mcp-session-id'], undefined, 'no session id is minted')
  t.equal(ok.json().result.resultType, 'complete')
  t.equal(typeof ok.json().result.ttlMs, 'number')
  t.equal(ok.json().result.cacheScope, 'public')
  t.equal(ok.json().result._meta['io.modelcontextprotocol/serverInfo'].name, 'datapulse-sse')

  const cases: Array<[string, Promise<{ status: number, json: () => any }>, number, number]> = [
    ['no _meta', call('tools/list', {}), 400, -32602],
    ['version header disagrees', call('tools/list', { _meta: META() }, { 'mcp-protocol-version': '2026-08-01' }), 400, -32020],
    ['unsupported version', call('tools/list', { _meta: META({ 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }) }, { 'mcp-protocol-version': '2099-01-01' }), 400, -32022],
    ['Mcp-Method disagrees', call('tools/list', { _meta: META() }, { 'mcp-method': 'prompts/list' }), 400, -32020],
    ['Mcp-Name disagrees', call('tools/call', { name: 'test_simple_text', _meta: META() }, { 'mcp-name': 'other' }), 400, -32020],
    ['unknown method', call('nope/nope', { _meta: META() }), 404, -32601],
    ['a removed method', call('ping', { _meta: META() }), 404, -32601],
    ['a missing client capability', call('tools/call', { name: 'test_missing_capability', _meta: META() }, { 'mcp-name': 'test_missing_capability' }), 400, -32021],
    ['unknown resource', call('resources/read', { uri: 'test://nope', _meta: META() }, { 'mcp-name': 'test://nope' }), 200, -32602],
    ['bad log level', call('tools/list', { _meta: META({ 'io.modelcontextprotocol/logLevel': 'loud' }) }), 400, -32602]
  ]
  for (const [what, pending, status, code] of cases) {
    const res = await pending
    t.equal(res.status, status, `${what} → HTTP ${status}`)
    t.equal(res.json().error?.code, code, `${what} → ${code}`)
    t.equal(res.json().id, 9, `${what}: the error carries the request id`)
  }
  const unsupported = await call('tools/list', { _meta: META({ 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }) }, { 'mcp-protocol-version': '2099-01-01' })
  t.same(unsupported.json().error.data.supported, ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26'], '-32022 lists what is supported')

  const name = { 'mcp-name': 'test_input_required_result_tampered_state' }
  const first = (await call('tools/call', { name: 'test_input_required_result_tampered_state', arguments: {}, _meta: META() }, name)).json().result
  t.equal(first.resultType, 'input_required')
  t.same(Object.keys(first.inputRequests), ['confirm'])
  const tampered = await call('tools/call', {
    name: 'test_input_required_result_tampered_state', inputResponses: { confirm: { action: 'accept', content: { ok: true } } }, requestState: `${first.requestState}x`, _meta: META()
  }, name)
  t.equal(tampered.json().error.code, -32602, 'a tampered requestState is refused')
  const foreign = await call('tools/call', {
    name: 'test_input_required_result_request_state', inputResponses: { confirm: { action: 'accept', content: { ok: true } } }, requestState: first.requestState, _meta: META()
  }, { 'mcp-name': 'test_input_required_result_request_state' })
  t.equal(foreign.json().error.code, -32602, "another request's state is refused")
  const done = await call('tools/call', {
    name: 'test_input_required_result_tampered_state', inputResponses: { confirm: { action: 'accept', content: { ok: true } } }, requestState: first.requestState, _meta: META()
  }, name)
  t.equal(done.json().result.content[0].text, 'confirmed=true', 'the untouched state continues')
})

t.test('2026-07-28: closing the response stream cancels the request', async (t) => {
  const { Type } = await import('@sinclair/typebox')
  const { defineTool } = await import('../lib/tool.js')
  let aborted = false
  const slow = defineTool({
    name: 'slow', description: 'reports progress, then waits', input: Type.Object({}),
    handler: async (_args, ctx) => {
      await ctx.progress(1)
      await new Promise((resolve) => ctx.signal.addEventListener('abort', () => { aborted = true; resolve(null) }))
      return 'late'
    }
  })
  const srv = await startApp({ tools: [slow] })
  t.teardown(srv.close)
  const { SseClient } = await import('./helper.js')
  const stream = await SseClient.request('POST', `${srv.url}/mcp`, {
    ...AUTH, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'slow'
  }, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'slow', _meta: { ...META(), progressToken: 'p' } } }))
  await stream.until((c) => c.events.length >= 1, 5000, 'progress')
  t.equal(stream.events[0].id, undefined, 'no event ids: nothing to resume in this revision')
  stream.close()
  await until(() => aborted, 'the handler to see its signal abort')
  t.ok(aborted)
})
