import { Type } from '@sinclair/typebox'
import t from 'tap'
import { defineTool } from '../lib/tool.js'
import { AUTH, SseClient, request, startApp, startWithTwoPrincipals } from './helper.js'
import { rpc, sleepTool } from './mcp-features.js'
import { eachStore } from './stores.js'

const ACCEPT = { accept: 'application/json, text/event-stream' }
const JSON_ONLY = { accept: 'application/json' }

const sleep = sleepTool

async function init (url: string, headers: Record<string, string> = AUTH, version = '2025-06-18') {
  const res = await request('POST', `${url}/mcp`, {
    headers: { ...headers, ...JSON_ONLY },
    body: rpc('initialize', { protocolVersion: version, capabilities: {}, clientInfo: { name: 't', version: '1' } })
  })
  return { res, sid: res.headers['mcp-session-id'] as string }
}

t.test('Streamable HTTP: statuses and JSON-RPC error codes', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const mcp = (body: unknown, headers: Record<string, string> = {}) =>
    request('POST', `${srv.url}/mcp`, { headers: { ...AUTH, ...JSON_ONLY, ...headers }, body })

  const { res, sid } = await init(srv.url)
  t.equal(res.status, 200)
  t.match(sid, /^[0-9a-f-]{36}$/, 'a random session id')
  t.equal(res.json().result.protocolVersion, '2025-06-18', 'the asked version is kept')
  t.same(res.json().result.capabilities, { logging: {}, tools: { listChanged: true } }, 'only what is registered')
  const unknownVersion = await init(srv.url, AUTH, '1999-01-01')
  t.equal(unknownVersion.res.json().result.protocolVersion, '2025-11-25', 'an unknown version gets our newest')

  const s = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' }
  t.equal((await mcp({ jsonrpc: '2.0', method: 'notifications/initialized' }, s)).status, 202, 'notification → 202')
  t.same((await mcp(rpc('ping'), s)).json(), { jsonrpc: '2.0', id: 1, result: {} })

  const cases: Array<[string, unknown, Record<string, string>, number, number]> = [
    ['parse error', '{"jsonrpc":', s, 400, -32700],
    ['not JSON-RPC', { id: 1, method: 'ping' }, s, 400, -32600],
    ['params not an object', { jsonrpc: '2.0', id: 1, method: 'ping', params: [1] }, s, 400, -32600],
    ['method not a string', { jsonrpc: '2.0', id: 1, method: 5 }, s, 400, -32600],
    ['neither request, notification nor response', { jsonrpc: '2.0', id: 1 }, s, 400, -32600],
    ['unknown method', rpc('nope/nope'), s, 200, -32601],
    ['a capability with nothing registered', rpc('resources/list'), s, 200, -32601],
    ['an answer to a request never sent', { jsonrpc: '2.0', id: 'srv-nothing', result: {} }, s, 400, -32600],
    ['tools/call without name', rpc('tools/call', {}), s, 200, -32602],
    ['unknown tool', rpc('tools/call', { name: 'nope' }), s, 200, -32602],
    ['bad cursor', rpc('tools/list', { cursor: 'zzz' }), s, 200, -32602],
    ['batch in 2025-06-18', [rpc('ping')], s, 400, -32600],
    ['no session id', rpc('ping'), {}, 400, -32600],
    ['unsupported 2025-era protocol version', rpc('ping'), { ...s, 'mcp-protocol-version': '2025-01-01' }, 400, -32600],
    ['a modern version header without the _meta envelope', rpc('ping'), { ...s, 'mcp-protocol-version': '2030-01-01' }, 400, -32602],
    ['initialize in a batch', [rpc('initialize'), rpc('ping', {}, 2)], { 'mcp-protocol-version': '2025-03-26' }, 400, -32600]
  ]
  for (const [what, body, headers, status, code] of cases) {
    const r = await mcp(body, headers)
    t.equal(r.status, status, `${what} → HTTP ${status}`)
    t.equal(r.json().error?.code, code, `${what} → ${code}`)
  }
  const unknown = await mcp(rpc('ping'), { ...s, 'mcp-session-id': 'does-not-exist' })
  t.equal(unknown.status, 404, 'unknown session → 404')

  const batch = await mcp([rpc('ping', {}, 1), rpc('tools/list', {}, 2), { jsonrpc: '2.0', method: 'notifications/initialized' }],
    { ...s, 'mcp-protocol-version': '2025-03-26' })
  t.equal(batch.status, 200)
  t.same(batch.json().map((r: { id: number }) => r.id), [1, 2], 'a 2025-03-26 batch answers each request')

  t.equal((await mcp(rpc('ping'), { ...s, accept: 'text/html' })).status, 406, 'Accept without JSON or SSE → 406')
  t.equal((await request('GET', `${srv.url}/mcp`, { headers: { ...AUTH, ...s, accept: 'application/json' } })).status, 406)
  t.equal((await request('POST', `${srv.url}/mcp`, { headers: JSON_ONLY, body: rpc('ping') })).status, 401, 'no token → 401')

  const evil = await mcp(rpc('ping'), { ...s, origin: 'http://evil.example' })
  t.equal(evil.status, 403, 'foreign Origin → 403')
  t.equal((await mcp(rpc('ping'), { ...s, origin: 'http://localhost:6274' })).status, 200, 'localhost Origin is allowed')

  const del = await request('DELETE', `${srv.url}/mcp`, { headers: { ...AUTH, ...s } })
  t.equal(del.status, 204)
  t.equal((await mcp(rpc('ping'), s)).status, 404, 'a deleted session is gone')
})

t.test('allowed origins and tools/list pagination', async (t) => {
  const many = Array.from({ length: 130 }, (_, i) => defineTool({
    name: `tool_${String(i).padStart(3, '0')}`, description: `tool ${i}`, input: Type.Object({}), handler: () => i
  }))
  const srv = await startApp({ tools: many, http: { allowedOrigins: ['https://app.example.com'] } })
  t.teardown(srv.close)
  const { sid } = await init(srv.url, { ...AUTH, origin: 'https://app.example.com' })
  t.ok(sid, 'a listed origin may initialize')
  const list = (params: Record<string, unknown>) => request('POST', `${srv.url}/mcp`, {
    headers: { ...AUTH, ...JSON_ONLY, 'mcp-session-id': sid }, body: rpc('tools/list', params)
  }).then((r) => r.json().result)
  const seen: string[] = []
  let page = await list({})
  seen.push(...page.tools.map((tool: { name: string }) => tool.name))
  while (page.nextCursor) {
    page = await list({ cursor: page.nextCursor })
    seen.push(...page.tools.map((tool: { name: string }) => tool.name))
  }
  t.equal(seen.length, 132, 'every tool once across pages')
  t.equal(new Set(seen).size, 132)
})

t.test('sessions belong to their principal', async (t) => {
  const { srv, alice, bob } = await startWithTwoPrincipals()
  t.teardown(srv.close)
  const { sid } = await init(srv.url, alice)
  const stolen = await request('POST', `${srv.url}/mcp`, { headers: { ...bob, ...JSON_ONLY, 'mcp-session-id': sid }, body: rpc('ping') })
  t.equal(stolen.status, 404, "another principal's session id → 404")
  const stolenGet = await request('DELETE', `${srv.url}/mcp`, { headers: { ...bob, 'mcp-session-id': sid } })
  t.equal(stolenGet.status, 404)

  const sse = await SseClient.open(`${srv.url}/sse`, alice)
  t.teardown(() => sse.close())
  await sse.until((c) => c.events.some((e) => e.event === 'endpoint'), 5000, 'endpoint event')
  const endpoint = sse.events.find((e) => e.event === 'endpoint')!.data
  const hijack = await request('POST', srv.url + endpoint, { headers: bob, body: rpc('ping') })
  t.equal(hijack.status, 404, "POST /messages to another principal's session → 404")
})

eachStore('HTTP+SSE: endpoint event, 202, responses as message events, errors', async (t, start) => {
  const srv = await start()
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/sse`)
  t.teardown(() => sse.close())
  await sse.until((c) => c.events.length > 0, 5000, 'endpoint event')
  t.equal(sse.events[0].event, 'endpoint')
  t.match(sse.events[0].data, /^\/messages\?sessionId=[0-9a-f-]{36}$/)
  const endpoint = srv.url + sse.events[0].data
  const accepted = await request('POST', endpoint, { headers: AUTH, body: rpc('tools/call', { name: 'get_time' }, 'a') })
  t.equal(accepted.status, 202)
  const answer = await sse.frameFor('a')
  t.equal(sse.events.find((e) => e.data.includes('"id":"a"'))!.event, 'message')
  t.ok(answer.result.structuredContent.time)
  t.equal((await request('POST', endpoint, { headers: AUTH, body: '{oops' })).json().error.code, -32700)
  await request('POST', endpoint, { headers: AUTH, body: rpc('nope/nope', {}, 'b') })
  t.equal((await sse.frameFor('b')).error.code, -32601)
  t.equal((await request('POST', `${srv.url}/messages?sessionId=unknown`, { headers: AUTH, body: rpc('ping') })).status, 404)
  t.equal((await request('POST', `${srv.url}/messages`, { headers: AUTH, body: rpc('ping') })).status, 400, 'missing sessionId → 400')
})

t.test('notifications/cancelled aborts the running tool, which then gets no response', async (t) => {
  const srv = await startApp({ tools: [sleep], sse: { reconnectGraceMs: 60_000 } })
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/sse`)
  t.teardown(() => sse.close())
  await sse.until((c) => c.events.length > 0)
  const endpoint = srv.url + sse.events[0].data
  const started = Date.now()
  await request('POST', endpoint, { headers: AUTH, body: rpc('tools/call', { name: 'sleep', arguments: { ms: 5000, tag: 'x' } }, 'slow') })
  await new Promise((resolve) => setTimeout(resolve, 100))
  await request('POST', endpoint, { headers: AUTH, body: { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow', reason: 'user' } } })
  await request('POST', endpoint, { headers: AUTH, body: rpc('ping', {}, 'after') })
  await sse.frameFor('after')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.ok(Date.now() - started < 4000, 'the tool stopped early')
  t.notOk(sse.events.some((e) => e.data.includes('"id":"slow"')), 'a cancelled request gets no response')
})

eachStore('resume: a broken POST stream and a dropped GET stream lose nothing, repeat nothing', async (t, start) => {
  const srv = await start({ tools: [sleep] })
  t.teardown(srv.close)
  const { sid } = await init(srv.url, AUTH, '2025-03-26')
  const headers = { ...AUTH, ...ACCEPT, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-03-26' }
  const tags = Array.from({ length: 8 }, (_, i) => `t${i}`)
  const batch = tags.map((tag, i) => rpc('tools/call', { name: 'sleep', arguments: { ms: 150 * i, tag } }, tag))

  // The POST answers as SSE; read until two responses arrived, then break the connection.
  const post = await openPostStream(`${srv.url}/mcp`, headers, batch)
  await post.until((c) => c.events.length >= 3, 5000, 'priming event and two responses')
  post.close()
  t.equal(post.events[0].data, '', 'the stream opens with a priming event')
  t.ok(post.events[0].id, 'which carries an id')
  const received = post.events.slice(1, 3)

  // GET with Last-Event-ID resumes; drop it after one more event and resume again.
  let last = received[received.length - 1].id!
  const first = await SseClient.open(`${srv.url}/mcp`, { ...headers, accept: 'text/event-stream', 'last-event-id': last })
  await first.until((c) => c.events.length >= 1, 5000, 'one resumed event')
  first.close()
  received.push(first.events[0])
  last = first.events[0].id!
  const second = await SseClient.open(`${srv.url}/mcp`, { ...headers, accept: 'text/event-stream', 'last-event-id': last })
  t.teardown(() => second.close())
  await second.until((c) => received.length + c.events.length >= tags.length, 8000, 'the rest')
  received.push(...second.events)
  const ids = received.map((e) => e.json().id)
  t.same([...ids].sort(), [...tags].sort(), 'every response exactly once')
  const key = (id: string) => id.split('.')[1].split('-').map(Number)
  const order = received.map((e) => e.id!)
  t.equal(new Set(order.map((id) => id.split('.')[0])).size, 1, 'every id names the POST stream it belongs to')
  t.same(order, [...order].sort((a, b) => key(a)[0] - key(b)[0] || (key(a)[1] ?? 0) - (key(b)[1] ?? 0)), 'in event-id order')
})

/** A POST whose response is read as an SSE stream. */
async function openPostStream (url: string, headers: Record<string, string>, body: unknown): Promise<SseClient> {
  return SseClient.request('POST', url, headers, JSON.stringify(body))
}
