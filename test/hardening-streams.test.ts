import t from 'tap'
import { AUTH, SseClient, post, request, startApp } from './helper.js'
import { eachStore } from './stores.js'
import { testTools } from './tools-fixture.js'

const blob = (id: string) => ({ type: 'call_tool', request_id: id, data: { name: 'blob', arguments: { size: 60_000 } } })

t.test('GET /events, GET /sse and tickets count against the rate limit', async (t) => {
  const cases: Array<[string, (url: string) => Promise<{ status: number }>]> = [
    ['GET /events', (url) => request('GET', `${url}/events?session_id=x&last_event_id=oops`, { headers: AUTH })],
    ['GET /sse', async (url) => { const c = await SseClient.open(`${url}/sse`); c.close(); return { status: c.status } }],
    ['ticket', (url) => request('POST', `${url}/events/ticket?session_id=x`, { headers: AUTH })]
  ]
  for (const [what, go] of cases) {
    const limited = await startApp({ limits: { rateLimitMax: 2, rateLimitWindowMs: 60_000 } })
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await go(limited.url)).status)
    await limited.close()
    t.not(statuses[0], 429, `${what}: the first is served`)
    t.equal(statuses[2], 429, `${what}: the third in the window is refused`)
  }
})

eachStore('a live reader that falls behind retention is told, on the envelope and on MCP', async (t, start) => {
  const { tools } = testTools()
  const srv = await start({ tools, sessions: { maxEvents: 20 }, sse: { writeTimeoutMs: 20_000 } })
  t.teardown(srv.close)
  const stream = await SseClient.open(`${srv.url}/events?session_id=slow`)
  t.teardown(() => stream.close())
  t.equal((await post(srv.url, '/message?session_id=slow', blob('b0'))).status, 202)
  await stream.frameFor('b0')
  stream.res!.pause() // the reader stops reading; the server's socket buffer fills
  for (let i = 1; i <= 250; i++) await post(srv.url, '/message?session_id=slow', blob(`b${i}`))
  await new Promise((resolve) => setTimeout(resolve, 300))
  stream.res!.resume()
  await stream.frameFor('b250', 10_000)
  const kinds = stream.events.map((e) => e.json()).map((f) => f.code ?? f.request_id)
  const notice = kinds.indexOf('frames_dropped')
  t.ok(notice > 0, 'the notice comes mid-stream, where the gap is')
  t.ok(kinds.filter((k) => k !== 'frames_dropped').length < 251, 'frames were indeed dropped')

  const sse = await SseClient.open(`${srv.url}/sse`)
  t.teardown(() => sse.close())
  await sse.until((c) => c.events.length > 0)
  const endpoint = srv.url + sse.events[0].data
  await new Promise((resolve) => setTimeout(resolve, 50))
  sse.res!.pause()
  for (let i = 1; i <= 250; i++) await request('POST', endpoint, { headers: AUTH, body: { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'blob', arguments: { size: 60_000 } } } })
  await new Promise((resolve) => setTimeout(resolve, 300))
  sse.res!.resume()
  await sse.frameFor(250, 10_000)
  const gap = sse.events.slice(1).map((e) => e.json()).find((m) => m.method === 'notifications/message')
  t.equal(gap?.params.data.code, 'frames_dropped', 'MCP streams announce the gap as a warning notifications/message')
})

eachStore('a Last-Event-ID from the future restarts after the delivery cursor, with the notice', async (t, start) => {
  const srv = await start()
  t.teardown(srv.close)
  const call = (id: string) => post(srv.url, '/message?session_id=fut', { type: 'call_tool', request_id: id, data: { name: 'get_time' } })
  const first = await SseClient.open(`${srv.url}/events?session_id=fut`)
  await call('a')
  const seen = await first.frameFor('a')
  t.ok(seen)
  const realId = first.events[0].id!
  first.close()
  const future = realId.includes('-') ? `${Number(realId.split('-')[0]) + 3_600_000}-0` : String(Number(realId) + 1000)
  const again = await SseClient.open(`${srv.url}/events?session_id=fut`, { ...AUTH, 'last-event-id': future })
  t.teardown(() => again.close())
  await call('b')
  const b = await again.frameFor('b', 3000)
  t.equal(b.request_id, 'b', 'new frames flow at once instead of waiting for ids to catch up')
  t.equal(again.events[0].json().code, 'frames_dropped', `and the client is told its position was reset (${again.events.map((e) => e.data).join(' | ')})`)
  t.equal((await request('GET', `${srv.url}/events?session_id=fut&last_event_id=99999999999999999999-0`, { headers: AUTH })).status, 400,
    'an id outside any range is a 400, not a wedged stream')
  const mcpBad = await request('GET', `${srv.url}/mcp`, { headers: { ...AUTH, accept: 'text/event-stream', 'mcp-session-id': 'x', 'last-event-id': 'abc' } })
  t.equal(mcpBad.status, 400)
})
