import t from 'tap'
import { AUTH, SseClient, request, startApp, type Running } from './helper.js'
import { everythingOptions } from './mcp-features.js'
import { redisUnavailable, startRedis } from './redis-server.js'

const skip = redisUnavailable()
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': { elicitation: {} }
}

function modern (srv: Running, method: string, params: Record<string, unknown>, name?: string) {
  return request('POST', `${srv.url}/mcp`, {
    headers: { ...AUTH, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}) },
    body: { jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: META } }
  })
}

t.test('two instances on one Redis: every MCP path crosses instances', { skip: skip ?? false }, async (t) => {
  const redis = await startRedis()
  t.teardown(redis.dispose)
  const sessions = { redisUrl: redis.url, redisKeyPrefix: 'mcp2:' }
  const a = await startApp(everythingOptions({ sessions, mcp: { jsonWindowMs: 0 } }))
  const b = await startApp(everythingOptions({ sessions, mcp: { jsonWindowMs: 0 } }))
  t.teardown(async () => { await a.close(); await b.close() })

  // 2026: a listener held by B hears a change published through A.
  const listen = await SseClient.request('POST', `${b.url}/mcp`, {
    ...AUTH, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen'
  }, JSON.stringify({ jsonrpc: '2.0', id: 'L', method: 'subscriptions/listen', params: { _meta: META, notifications: { toolsListChanged: true } } }))
  t.teardown(() => listen.close())
  await listen.until((c) => c.events.length >= 1, 5000, 'the acknowledgement')
  t.equal(listen.events[0].json().method, 'notifications/subscriptions/acknowledged')
  await modern(a, 'tools/call', { name: 'test_trigger_tool_change' }, 'test_trigger_tool_change')
  await listen.until((c) => c.events.length >= 2, 5000, 'the change from A')
  const change = listen.events[1].json()
  t.equal(change.method, 'notifications/tools/list_changed')
  t.equal(change.params._meta['io.modelcontextprotocol/subscriptionId'], 'L')

  // 2026: an input_required round started on A is completed on B.
  const tool = 'test_input_required_result_request_state'
  const round = (await modern(a, 'tools/call', { name: tool, arguments: {} }, tool)).json().result
  t.equal(round.resultType, 'input_required')
  const done = await modern(b, 'tools/call', {
    name: tool, arguments: {}, inputResponses: { confirm: { action: 'accept', content: { ok: true } } }, requestState: round.requestState
  }, tool)
  t.equal(done.json().result.content[0].text, 'state-ok: confirmed=true', 'B opens the state A sealed')

  // 2025: an elicitation sent by a call running on A is answered by a POST to B.
  const init = await request('POST', `${a.url}/mcp`, {
    headers: { ...AUTH, accept: 'application/json, text/event-stream' },
    body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: { elicitation: {} }, clientInfo: { name: 'x', version: '1' } } }
  })
  const headers = { ...AUTH, 'mcp-session-id': init.headers['mcp-session-id'] as string, 'mcp-protocol-version': '2025-11-25' }
  const call = await SseClient.request('POST', `${a.url}/mcp`, { ...headers, accept: 'application/json, text/event-stream' },
    JSON.stringify({ jsonrpc: '2.0', id: 'e', method: 'tools/call', params: { name: 'test_elicitation' } }))
  t.teardown(() => call.close())
  await call.until((c) => c.events.some((e) => e.data.includes('elicitation/create')), 5000, 'the elicitation request')
  const ask = call.events.find((e) => e.data.includes('elicitation/create'))!.json()
  const answered = await request('POST', `${b.url}/mcp`, {
    headers: { ...headers, accept: 'application/json, text/event-stream' },
    body: { jsonrpc: '2.0', id: ask.id, result: { action: 'accept', content: { username: 'bo', email: 'bo@example.com' } } }
  })
  t.equal(answered.status, 202, 'B takes the answer')
  await call.until((c) => c.ended, 5000, 'the call on A to finish')
  const response = call.events.filter((e) => e.data !== '').map((e) => e.json()).find((m) => m.id === 'e')
  t.match(response.result.content[0].text, /bo@example.com/, 'the call on A got the answer posted to B')

  // 2025: resources/updated published through B reaches a session subscribed on A.
  await request('POST', `${a.url}/mcp`, { headers: { ...headers, accept: 'application/json' }, body: { jsonrpc: '2.0', id: 's', method: 'resources/subscribe', params: { uri: 'test://watched-resource' } } })
  const standalone = await SseClient.open(`${a.url}/mcp`, { ...headers, accept: 'text/event-stream' })
  t.teardown(() => standalone.close())
  await request('POST', `${b.url}/mcp`, { headers: { ...headers, accept: 'application/json' }, body: { jsonrpc: '2.0', id: 'u', method: 'tools/call', params: { name: 'test_trigger_resource_update' } } })
  await standalone.until((c) => c.events.some((e) => e.data.includes('notifications/resources/updated')), 5000, 'the update on the GET stream')
  t.pass('a change published through B reached the subscriber on A')
})
