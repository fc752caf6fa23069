import t from 'tap'
import { AUTH, SseClient, post, request, startApp, startWithTwoPrincipals } from './helper.js'
import { testTools } from './tools-fixture.js'

const call = (id: string, name = 'get_time', args: Record<string, unknown> = {}) =>
  ({ type: 'call_tool', request_id: id, data: { name, arguments: args } })
const ids = (c: SseClient) => c.events.map((e) => e.json().request_id)

t.test('Last-Event-ID (header or query) resumes exactly after the id', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const first = await SseClient.open(`${srv.url}/events?session_id=resume`)
  for (const id of ['a', 'b', 'c']) await post(srv.url, '/message?session_id=resume', call(id))
  await first.until((c) => c.events.length === 3)
  first.close()
  for (const id of ['d', 'e']) await post(srv.url, '/message?session_id=resume', call(id))

  const byHeader = await SseClient.open(`${srv.url}/events?session_id=resume`, { ...AUTH, 'last-event-id': first.events[0].id! })
  await byHeader.until((c) => c.events.length === 4)
  t.same(ids(byHeader), ['b', 'c', 'd', 'e'], 'header: every frame after the id, in order')
  byHeader.close()
  const byQuery = await SseClient.open(`${srv.url}/events?session_id=resume&last_event_id=${first.events[2].id}`)
  t.teardown(() => byQuery.close())
  await byQuery.until((c) => c.events.length === 2)
  t.same(ids(byQuery), ['d', 'e'], 'query parameter works the same')
  await post(srv.url, '/message?session_id=resume', call('f'))
  await byQuery.frameFor('f')
  t.same(ids(byQuery), ['d', 'e', 'f'], 'then live frames')
})

t.test('frames lost to retention are announced, never silent', async (t) => {
  const srv = await startApp({ sessions: { maxEvents: 5 } })
  t.teardown(srv.close)
  for (let i = 0; i < 9; i++) await post(srv.url, '/message?session_id=small', call(`r${i}`))
  await new Promise((resolve) => setTimeout(resolve, 100))
  const sse = await SseClient.open(`${srv.url}/events?session_id=small&last_event_id=1`)
  t.teardown(() => sse.close())
  await sse.until((c) => c.events.length === 6)
  const [notice, ...rest] = sse.events.map((e) => e.json())
  t.same(notice, { type: 'error', request_id: null, code: 'frames_dropped', error: notice.error })
  t.match(notice.error, /dropped/)
  t.same(rest.map((f) => f.request_id), ['r4', 'r5', 'r6', 'r7', 'r8'], 'the retained frames follow')
})

t.test('a second stream takes over the session; no frame is delivered twice', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const a = await SseClient.open(`${srv.url}/events?session_id=take`)
  await post(srv.url, '/message?session_id=take', call('one'))
  await a.frameFor('one')
  const b = await SseClient.open(`${srv.url}/events?session_id=take`)
  t.teardown(() => b.close())
  await a.until((c) => c.ended, 5000, 'the first stream to end')
  t.ok(a.comments.some((c) => /replaced/.test(c)), 'the first stream was told why')
  await post(srv.url, '/message?session_id=take', call('two'))
  await b.frameFor('two')
  t.same(ids(a), ['one'])
  t.same(ids(b), ['two'], 'the new stream starts after what was delivered')
})

t.test('another principal cannot read or write a session', async (t) => {
  const { srv, alice, bob } = await startWithTwoPrincipals()
  t.teardown(srv.close)
  const mine = await SseClient.open(`${srv.url}/events?session_id=private`, alice)
  t.teardown(() => mine.close())
  const read = await request('GET', `${srv.url}/events?session_id=private`, { headers: bob })
  t.equal(read.status, 403)
  t.equal(read.json().code, 'session_forbidden')
  const write = await post(srv.url, '/message?session_id=private', call('x'), bob)
  t.equal(write.status, 403)
  await post(srv.url, '/message?session_id=private', call('mine'), alice)
  await mine.frameFor('mine')
  t.same(ids(mine), ['mine'], "bob's request never reached alice's stream")
})

t.test('a slow reader is cut after the write timeout; other sessions stay fast', async (t) => {
  const { tools } = testTools()
  const srv = await startApp({ tools, sse: { writeTimeoutMs: 500 }, sessions: { maxBytes: 64 * 1024 * 1024 } })
  t.teardown(srv.close)
  const slow = await SseClient.open(`${srv.url}/events?session_id=slow`)
  slow.res!.pause()
  slow.res!.socket.pause()
  const fast = await SseClient.open(`${srv.url}/events?session_id=fast`)
  t.teardown(() => { fast.close(); slow.close() })

  // Fill the slow session far beyond the socket buffers.
  const posted = Array.from({ length: 250 }, (_, i) => `big${i}`)
  await Promise.all(posted.map((id) => post(srv.url, '/message?session_id=slow', call(id, 'blob', { size: 60_000 }))))

  const latencies: number[] = []
  for (let i = 0; i < 7; i++) {
    const started = performance.now()
    await post(srv.url, '/message?session_id=fast', call(`f${i}`))
    await fast.frameFor(`f${i}`)
    latencies.push(performance.now() - started)
  }
  latencies.sort((a, b) => a - b)
  t.ok(latencies[3] < 100, `median round trip on the other session ${latencies[3].toFixed(1)} ms`)

  const deadline = Date.now() + 5000
  let streams = 2
  while (streams !== 1 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    streams = (await request('GET', `${srv.url}/ready`)).json().streams
  }
  t.equal(streams, 1, 'the slow stream was closed by the server')

  // Reconnecting replays what the slow reader never got.
  slow.close()
  const again = await SseClient.open(`${srv.url}/events?session_id=slow&last_event_id=0`)
  t.teardown(() => again.close())
  await again.until((c) => c.events.length >= posted.length, 10_000, 'the replay')
  t.same(ids(again).sort(), [...posted].sort(), 'every frame is still in the log')
})

t.test('a client that disconnects mid-call: the call is aborted after the grace time; the outcome waits in the log', async (t) => {
  const { tools, aborted } = testTools()
  const srv = await startApp({ tools, sse: { reconnectGraceMs: 200 } })
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/events?session_id=gone`)
  await post(srv.url, '/message?session_id=gone', call('long', 'sleep', { ms: 10_000, tag: 'long' }))
  await post(srv.url, '/message?session_id=gone', call('short', 'sleep', { ms: 100, tag: 'short' }))
  await new Promise((resolve) => setTimeout(resolve, 30))
  sse.close()
  const deadline = Date.now() + 5000
  while (!aborted.includes('long') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(aborted, ['long'], "the abandoned call's AbortSignal fired; the quick one finished")
  const back = await SseClient.open(`${srv.url}/events?session_id=gone`)
  t.teardown(() => back.close())
  const short = await back.frameFor('short')
  const long = await back.frameFor('long')
  t.equal(short.type, 'tool_result', 'a result that finished after the disconnect is delivered on reconnect')
  t.equal(long.code, 'cancelled')
})

t.test('a quick reconnect keeps running calls alive', async (t) => {
  const { tools, aborted } = testTools()
  const srv = await startApp({ tools, sse: { reconnectGraceMs: 1000 } })
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/events?session_id=blip`)
  await post(srv.url, '/message?session_id=blip', call('w', 'sleep', { ms: 400, tag: 'w' }))
  sse.close()
  await new Promise((resolve) => setTimeout(resolve, 50))
  const back = await SseClient.open(`${srv.url}/events?session_id=blip`)
  t.teardown(() => back.close())
  t.equal((await back.frameFor('w')).type, 'tool_result')
  t.same(aborted, [])
})

t.test('100 forced disconnect/reconnect cycles during a steady stream of calls: each answered exactly once', async (t) => {
  const srv = await startApp({ sse: { reconnectGraceMs: 60_000 } })
  t.teardown(srv.close)
  const total = 400
  let sent = 0
  const sender = (async () => {
    while (sent < total) {
      await post(srv.url, '/message?session_id=churn', call(`c${sent}`))
      sent++
    }
  })()
  const seen: string[] = []
  let last = ''
  for (let cycle = 0; cycle < 100; cycle++) {
    const headers = last ? { ...AUTH, 'last-event-id': last } : AUTH
    const sse = await SseClient.open(`${srv.url}/events?session_id=churn`, headers)
    await new Promise((resolve) => setTimeout(resolve, 2 + (cycle % 5) * 3))
    sse.close()
    // Only frames the client fully received count; it resumes after the last of them.
    for (const e of sse.events) { seen.push(e.json().request_id); last = e.id! }
  }
  await sender
  const final = await SseClient.open(`${srv.url}/events?session_id=churn`, last ? { ...AUTH, 'last-event-id': last } : AUTH)
  t.teardown(() => final.close())
  await final.until(() => seen.length + final.events.length >= total, 10_000, 'the remaining frames')
  seen.push(...ids(final))
  const counts = new Map<string, number>()
  for (const id of seen) counts.set(id, (counts.get(id) ?? 0) + 1)
  t.equal(counts.size, total, 'every request_id answered')
  t.same([...counts.values()].filter((n) => n !== 1), [], 'none twice')
})
