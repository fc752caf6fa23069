import t from 'tap'
import { AUTH, SseClient, post, request, startApp } from './helper.js'
import { everythingOptions, sleepTool } from './mcp-features.js'

// Everything here runs with the shipped limits and one shared token: every client is the same
// principal, so any per-principal count is a count for the whole server.

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {}
}
const modern = (url: string, method: string, params: Record<string, unknown>, id: number | string = 1, name?: string) =>
  request('POST', `${url}/mcp`, {
    headers: {
      ...AUTH,
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(name === undefined ? {} : { 'mcp-name': name })
    },
    body: { jsonrpc: '2.0', id, method, params: { ...params, _meta: META } }
  })

t.test('an attacker holding calls, listeners, tickets and sessions locks nobody out', async (t) => {
  const srv = await startApp(everythingOptions({ tools: [...(everythingOptions().tools ?? []), sleepTool] }))
  t.teardown(srv.close)

  // 2026-07-28 calls have no session: 20 slow ones, all with JSON-RPC id 1.
  const slow = Array.from({ length: 20 }, () => modern(srv.url, 'tools/call', { name: 'sleep', arguments: { ms: 1500 } }, 1, 'sleep'))
  // 40 idle subscriptions/listen streams.
  const listens = await Promise.all(Array.from({ length: 40 }, () => SseClient.request('POST', `${srv.url}/mcp`, {
    ...AUTH, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen', 'content-type': 'application/json'
  }, JSON.stringify({ jsonrpc: '2.0', id: 'l', method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META } }))))
  t.teardown(() => { for (const l of listens) l.close() })
  t.ok(listens.every((l) => l.status === 200), 'the attacker got its 40 listeners')
  // 100 unused tickets and 150 sessions left behind without DELETE.
  for (let i = 0; i < 100; i++) await request('POST', `${srv.url}/events/ticket?session_id=hoard${i % 5}`, { headers: AUTH })
  for (let i = 0; i < 150; i++) {
    const init = await request('POST', `${srv.url}/mcp`, {
      headers: { ...AUTH, accept: 'application/json, text/event-stream' },
      body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'hoarder', version: '1' } } }
    })
    t.equal(init.status, 200, `hoarded session ${i}`, { diagnostic: init.status !== 200 })
    if (init.status !== 200) break
  }
  await new Promise((resolve) => setTimeout(resolve, 100))

  // A well-behaved client, meanwhile.
  const call = await modern(srv.url, 'tools/call', { name: 'sleep', arguments: { ms: 1 } }, 1, 'sleep')
  t.equal(call.status, 200)
  t.equal(call.json().result?.content?.[0]?.text, 'slept 1', 'its call with id 1 runs, beside 20 others with the same id')
  const listen = await SseClient.request('POST', `${srv.url}/mcp`, {
    ...AUTH, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen', 'content-type': 'application/json'
  }, JSON.stringify({ jsonrpc: '2.0', id: 'mine', method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META } }))
  t.teardown(() => listen.close())
  t.equal(listen.status, 200, 'it can listen')
  const ticket = await request('POST', `${srv.url}/events/ticket?session_id=good`, { headers: AUTH })
  t.equal(ticket.status, 200, 'it gets a ticket')
  const sse = await SseClient.open(`${srv.url}/events?session_id=good&ticket=${ticket.json().ticket}`, {})
  t.teardown(() => sse.close())
  t.equal(sse.status, 200, 'which opens its stream')
  t.equal((await post(srv.url, '/message?session_id=good', { type: 'list_tools', request_id: 'g' })).status, 202, 'its envelope session is served')
  t.equal((await sse.frameFor('g')).type, 'list_tools')
  const init = await request('POST', `${srv.url}/mcp`, {
    headers: { ...AUTH, accept: 'application/json, text/event-stream' },
    body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'good', version: '1' } } }
  })
  t.equal(init.status, 200, 'and so is its Streamable HTTP session')

  const results = await Promise.all(slow)
  t.same(results.map((r) => r.json().result?.content?.[0]?.text), Array(20).fill('slept 1500'), "the attacker's 20 calls all finished too")
})

t.test('listener and session budgets end the least recently used, never refuse the newcomer', async (t) => {
  const srv = await startApp(everythingOptions({ mcp: { maxListeners: 3 }, sessions: { maxSessions: 5 } }))
  t.teardown(srv.close)
  const open = (id: string) => SseClient.request('POST', `${srv.url}/mcp`, {
    ...AUTH, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen', 'content-type': 'application/json'
  }, JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META } }))
  const first = await open('a')
  const rest = [await open('b'), await open('c'), await open('d')]
  t.teardown(() => { first.close(); for (const l of rest) l.close() })
  t.ok(rest.every((l) => l.status === 200), 'the fourth listener is accepted')
  await first.until((c) => c.ended, 2000, 'the oldest listener to end')
  t.match(first.events.at(-1)?.json(), { id: 'a', result: { resultType: 'complete' } }, 'with its final result, so its client can listen again')

  for (let i = 0; i < 12; i++) {
    t.equal((await post(srv.url, `/message?session_id=e${i}`, { type: 'list_tools', request_id: 'r' })).status, 202, `envelope session ${i} of 12 on a budget of 5`)
  }
  const metrics = await request('GET', `${srv.url}/metrics`, { headers: AUTH })
  t.match(metrics.text, /datapulse_sessions_evicted_total 7/, 'seven idle sessions made room, and /metrics says so')
})
