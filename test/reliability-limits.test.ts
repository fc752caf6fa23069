import t from 'tap'
import { AUTH, SseClient, eventually, openStreams, post, request, startApp } from './helper.js'
import { makeKeyPair, signToken } from './jwt-keys.js'
import { testTools } from './tools-fixture.js'

const call = (id: string, name = 'get_time', args: Record<string, unknown> = {}) =>
  ({ type: 'call_tool', request_id: id, data: { name, arguments: args } })

t.test('MAX_SESSIONS: an idle session makes room; 503 only when every session is in use', async (t) => {
  const srv = await startApp({ sessions: { maxSessions: 2 } })
  t.teardown(srv.close)
  const s1 = await SseClient.open(`${srv.url}/events?session_id=s1`)
  const s2 = await SseClient.open(`${srv.url}/events?session_id=s2`)
  t.teardown(() => { s1.close(); s2.close() })
  const full = await post(srv.url, '/message?session_id=s3', call('c'))
  t.equal(full.status, 503, 'both sessions stream: a third is refused')
  t.equal(full.json().code, 'too_many_sessions')
  t.match(full.json().message, /all 2 sessions are in use/)
  t.equal((await request('GET', `${srv.url}/events?session_id=s3`, { headers: AUTH })).status, 503)
  t.equal((await post(srv.url, '/message?session_id=s1', call('d'))).status, 202, 'known sessions still accepted')
  await s1.frameFor('d')
  s1.close()
  await eventually(async () => await openStreams(srv.url) === 1)
  t.equal((await post(srv.url, '/message?session_id=s3', call('e'))).status, 202, 's1 is idle now: it makes room')
  t.equal((await post(srv.url, '/message?session_id=s2', call('f'))).status, 202, 'the streaming session was kept')
  await s2.frameFor('f')
})

t.test('streams per principal: 429 beyond the limit, and the slot is freed on close', async (t) => {
  const srv = await startApp({ sse: { maxStreamsPerPrincipal: 2 } })
  t.teardown(srv.close)
  const a = await SseClient.open(`${srv.url}/events?session_id=p1`)
  const b = await SseClient.open(`${srv.url}/events?session_id=p2`)
  const third = await request('GET', `${srv.url}/events?session_id=p3`, { headers: AUTH })
  t.equal(third.status, 429)
  t.equal(third.json().code, 'too_many_streams')
  a.close()
  const deadline = Date.now() + 3000
  let status = 429
  while (status === 429 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    const c = await SseClient.open(`${srv.url}/events?session_id=p3`)
    status = c.status
    c.close()
  }
  t.equal(status, 200, 'a freed slot can be used')
  b.close()
})

t.test('concurrent calls per session: 429 beyond the limit, other sessions unaffected', async (t) => {
  const { tools } = testTools()
  const srv = await startApp({ tools, limits: { maxConcurrentCallsPerSession: 2 } })
  t.teardown(srv.close)
  const sleeper = (id: string) => call(id, 'sleep', { ms: 500, tag: id })
  t.equal((await post(srv.url, '/message?session_id=busy', sleeper('1'))).status, 202)
  t.equal((await post(srv.url, '/message?session_id=busy', sleeper('2'))).status, 202)
  const third = await post(srv.url, '/message?session_id=busy', sleeper('3'))
  t.equal(third.status, 429)
  t.equal(third.json().code, 'too_many_calls')
  t.equal((await post(srv.url, '/message?session_id=other', sleeper('4'))).status, 202, 'another session has its own slots')
  const sse = await SseClient.open(`${srv.url}/events?session_id=busy`)
  t.teardown(() => sse.close())
  const other = await SseClient.open(`${srv.url}/events?session_id=other`)
  t.teardown(() => other.close())
  await sse.frameFor('1')
  await sse.frameFor('2')
  await other.frameFor('4')
  // A slot is given back just after its result is published: wait for that, not for a time.
  await eventually(async () => /^datapulse_tool_calls_in_flight 0$/m.test((await request('GET', `${srv.url}/metrics`)).text))
  t.equal((await post(srv.url, '/message?session_id=busy', sleeper('5'))).status, 202, 'slots free up when calls end')
})

t.test('per-session retention is bounded by count and bytes', async (t) => {
  const { tools } = testTools()
  const srv = await startApp({ tools, sessions: { maxEvents: 1000, maxBytes: 100_000 } })
  t.teardown(srv.close)
  for (let i = 0; i < 10; i++) await post(srv.url, '/message?session_id=bytes', call(`b${i}`, 'blob', { size: 30_000 }))
  await new Promise((resolve) => setTimeout(resolve, 100))
  const sse = await SseClient.open(`${srv.url}/events?session_id=bytes`)
  t.teardown(() => sse.close())
  await sse.until((c) => c.events.some((e) => e.json().request_id === 'b9'))
  const frames = sse.events.map((e) => e.json())
  t.equal(frames[0].code, 'frames_dropped', 'the overflow is announced')
  t.ok(frames.length - 1 <= 4, `at most ~100 kB kept (${frames.length - 1} frames of 30 kB)`)
  t.same(frames.slice(1).map((f) => f.request_id), frames.slice(1).map((f) => f.request_id).sort(), 'the newest are kept, in order')
})

t.test('rate limit per principal on POST routes', async (t) => {
  const pair = makeKeyPair()
  const srv = await startApp({ auth: { jwtKey: pair.publicPem }, limits: { rateLimitMax: 3, rateLimitWindowMs: 60_000 } })
  t.teardown(srv.close)
  const alice = { authorization: `Bearer ${signToken(pair, { sub: 'alice' })}` }
  const bob = { authorization: `Bearer ${signToken(pair, { sub: 'bob' })}` }
  for (let i = 0; i < 3; i++) t.equal((await post(srv.url, '/message?session_id=ra', call(`r${i}`), alice)).status, 202)
  const limited = await post(srv.url, '/message?session_id=ra', call('r3'), alice)
  t.equal(limited.status, 429)
  t.equal(limited.json().code, 'rate_limited')
  t.ok(limited.headers['retry-after'], 'Retry-After tells when')
  t.equal((await post(srv.url, '/message?session_id=rb', call('b0'), bob)).status, 202, 'another principal has its own budget')
  t.equal((await request('GET', `${srv.url}/health`)).status, 200, 'health and metadata are not limited')
})

t.test('one budget per principal across every route, GET and DELETE /mcp included', async (t) => {
  const pair = makeKeyPair()
  const srv = await startApp({ auth: { jwtKey: pair.publicPem }, limits: { rateLimitMax: 4, rateLimitWindowMs: 60_000 } })
  t.teardown(srv.close)
  const carol = { authorization: `Bearer ${signToken(pair, { sub: 'carol' })}` }
  const init = await request('POST', `${srv.url}/mcp`, {
    headers: { ...carol, accept: 'application/json, text/event-stream' },
    body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }
  })
  t.equal(init.status, 200, '1: initialize')
  const session = { ...carol, 'mcp-session-id': String(init.headers['mcp-session-id']), 'mcp-protocol-version': '2025-11-25' }
  t.equal((await post(srv.url, '/message?session_id=rc', call('c1'), carol)).status, 202, '2: an envelope POST')
  const replay = await SseClient.open(`${srv.url}/mcp`, { ...session, 'last-event-id': '0' })
  t.equal(replay.status, 200, '3: GET /mcp')
  replay.close()
  t.equal((await request('POST', `${srv.url}/events/ticket?session_id=rc`, { headers: carol })).status, 200, '4: a ticket')
  const get = await SseClient.open(`${srv.url}/mcp`, { ...session, 'last-event-id': '0' })
  get.close()
  t.equal(get.status, 429, 'a GET /mcp replay past the budget is limited')
  const del = await request('DELETE', `${srv.url}/mcp`, { headers: session })
  t.equal(del.status, 429, 'and so is DELETE /mcp: the count is the principal\'s, not the route\'s')
})

t.test('rate limiting is off by default', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => post(srv.url, '/message?session_id=free', call(`f${i}`)).then((r) => r.status)))
  t.same([...new Set(statuses)], [202])
})
