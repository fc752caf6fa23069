import { AUTH, SseClient, eventually, post, request } from './helper.js'
import { eachStore } from './stores.js'

eachStore('envelope round trip: list_tools, get_time, error frames', async (t, start) => {
  const srv = await start()
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/events?session_id=abc123`)
  t.teardown(() => sse.close())
  t.equal(sse.status, 200)
  t.match(sse.headers['content-type'], /^text\/event-stream/)
  t.equal(sse.headers['cache-control'], 'no-cache, no-transform')

  const ack = await post(srv.url, '/message?session_id=abc123', { type: 'list_tools', request_id: 'req-1', data: {} })
  t.equal(ack.status, 202)
  t.same(ack.json(), { status: 'accepted', request_id: 'req-1' })
  const list = await sse.frameFor('req-1')
  t.equal(list.type, 'list_tools')
  const names = list.data.tools.map((tool: { name: string }) => tool.name)
  t.same(names.sort(), ['fetch_url', 'get_time'])
  for (const tool of list.data.tools) {
    t.type(tool.description, 'string')
    t.equal(tool.inputSchema.type, 'object', `${tool.name} publishes a JSON Schema`)
  }

  await post(srv.url, '/message?session_id=abc123', { type: 'call_tool', request_id: 'req-2', data: { name: 'get_time' } })
  const time = await sse.frameFor('req-2')
  t.equal(time.type, 'tool_result')
  t.match(time.data.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.ok(Math.abs(Date.parse(time.data.time) - Date.now()) < 60_000, 'time is now')

  await post(srv.url, '/message?session_id=abc123', { type: 'call_tool', request_id: 'req-4', data: { name: 'no_such_tool' } })
  const unknown = await sse.frameFor('req-4')
  t.same(unknown, { type: 'error', request_id: 'req-4', error: 'unknown tool "no_such_tool"', code: 'unknown_tool' })

  await post(srv.url, '/message?session_id=abc123', { type: 'call_tool', request_id: 'req-5', data: { name: 'fetch_url', url: 42 } })
  const bad = await sse.frameFor('req-5')
  t.equal(bad.type, 'error')
  t.equal(bad.code, 'invalid_arguments')
  t.match(bad.error, /url/)

  await post(srv.url, '/message?session_id=abc123', { type: 'call_tool', request_id: 'req-6', data: { name: 'fetch_url', arguments: {} } })
  const missing = await sse.frameFor('req-6')
  t.equal(missing.code, 'invalid_arguments', 'data.arguments is validated too')
  t.match(missing.error, /url/)

  // Memory ids are "N", Redis stream ids "ms-seq": both compare as (number, number).
  const key = (id: string) => id.split('-').map(Number)
  const ids = sse.events.map((e) => e.id!)
  const sorted = [...ids].sort((a, b) => key(a)[0] - key(b)[0] || (key(a)[1] ?? 0) - (key(b)[1] ?? 0))
  t.same(ids, sorted, 'event ids increase')
  t.equal(new Set(ids).size, ids.length, 'event ids are unique')
})

eachStore('results posted before the stream opens wait in the session queue', async (t, start) => {
  const srv = await start()
  t.teardown(srv.close)
  for (const id of ['a', 'b', 'c']) {
    const res = await post(srv.url, '/message?session_id=early', { type: 'call_tool', request_id: id, data: { name: 'get_time' } })
    t.equal(res.status, 202)
  }
  await new Promise((resolve) => setTimeout(resolve, 50))
  const sse = await SseClient.open(`${srv.url}/events?session_id=early`)
  t.teardown(() => sse.close())
  for (const id of ['a', 'b', 'c']) t.equal((await sse.frameFor(id)).type, 'tool_result')
  t.same(sse.events.map((e) => e.json().request_id), ['a', 'b', 'c'], 'in order, once each')

  // A second stream without Last-Event-ID gets only what no stream has delivered yet.
  sse.close()
  await post(srv.url, '/message?session_id=early', { type: 'call_tool', request_id: 'd', data: { name: 'get_time' } })
  await new Promise((resolve) => setTimeout(resolve, 50))
  const again = await SseClient.open(`${srv.url}/events?session_id=early`)
  t.teardown(() => again.close())
  await again.frameFor('d')
  t.same(again.events.map((e) => e.json().request_id), ['d'])
})

eachStore('tool arguments beside name or under data.arguments', async (t, start) => {
  const { Type } = await import('@sinclair/typebox')
  const { defineTool } = await import('../lib/tool.js')
  const echo = defineTool({
    name: 'echo',
    description: 'echoes its text',
    input: Type.Object({ text: Type.String() }),
    handler: ({ text }) => ({ text })
  })
  const srv = await start({ tools: [echo] })
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/events?session_id=args`)
  t.teardown(() => sse.close())
  await post(srv.url, '/message?session_id=args', { type: 'call_tool', request_id: 'flat', data: { name: 'echo', text: 'hi' } })
  await post(srv.url, '/message?session_id=args', { type: 'call_tool', request_id: 'nested', data: { name: 'echo', arguments: { text: 'yo' } } })
  t.same((await sse.frameFor('flat')).data, { text: 'hi' })
  t.same((await sse.frameFor('nested')).data, { text: 'yo' })
})

eachStore('a tool that throws or times out becomes an error frame; the server keeps serving', async (t, start) => {
  const { Type } = await import('@sinclair/typebox')
  const { defineTool } = await import('../lib/tool.js')
  const boom = defineTool({ name: 'boom', description: 'throws', input: Type.Object({}), handler: () => { throw new Error('kaboom') } })
  let told: unknown
  const slow = defineTool({
    name: 'slow', description: 'never ends', input: Type.Object({}), timeoutMs: 100,
    handler: (_args, ctx) => new Promise(() => { ctx.signal.addEventListener('abort', () => { told = ctx.signal.reason }) })
  })
  const srv = await start({ tools: [boom, slow] })
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/events?session_id=faults`)
  t.teardown(() => sse.close())
  await post(srv.url, '/message?session_id=faults', { type: 'call_tool', request_id: 'b', data: { name: 'boom' } })
  await post(srv.url, '/message?session_id=faults', { type: 'call_tool', request_id: 's', data: { name: 'slow' } })
  const failed = await sse.frameFor('b')
  t.match(failed, { type: 'error', request_id: 'b', code: 'tool_failed' })
  t.match(failed.error, /^boom: internal error \(error id [0-9a-f-]{36}\)$/, 'an unexpected error is named by an id, its text kept for the log')
  const timeout = await sse.frameFor('s')
  t.equal(timeout.code, 'tool_timeout')
  t.match(timeout.error, /timed out after 100 ms/)
  t.match(told, { message: 'timeout' }, 'the handler\'s signal fired when its time ran out')
  await post(srv.url, '/message?session_id=faults', { type: 'call_tool', request_id: 'after', data: { name: 'get_time' } })
  t.equal((await sse.frameFor('after')).type, 'tool_result')
})

eachStore('idle streams get ping comments', async (t, start) => {
  const srv = await start({ sse: { pingIntervalMs: 50 } })
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/events?session_id=pings`)
  t.teardown(() => sse.close())
  await sse.until((c) => c.comments.filter((x) => x === 'ping').length >= 2, 3000, 'two pings')
  t.pass('pinged')
})

eachStore('sessions expire after the TTL without activity', async (t, start) => {
  const srv = await start({ sessions: { ttlSeconds: 1, sweepIntervalMs: 100 } })
  t.teardown(srv.close)
  await post(srv.url, '/message?session_id=ttl', { type: 'call_tool', request_id: 'old', data: { name: 'get_time' } })
  await new Promise((resolve) => setTimeout(resolve, 50))
  const sessions = async () => (await request('GET', `${srv.url}/ready`)).json().sessions
  t.equal(await sessions(), 1)
  // The sweeper runs late on a loaded machine; a store that never sweeps fails at the deadline.
  await eventually(async () => await sessions() === 0)
  t.equal(await sessions(), 0, 'swept')
  const sse = await SseClient.open(`${srv.url}/events?session_id=ttl`)
  t.teardown(() => sse.close())
  await post(srv.url, '/message?session_id=ttl', { type: 'call_tool', request_id: 'new', data: { name: 'get_time' } })
  await sse.frameFor('new')
  t.same(sse.events.map((e) => e.json().request_id), ['new'], 'the expired session queue is gone')
})

eachStore('GET /health', async (t, start) => {
  const srv = await start()
  t.teardown(srv.close)
  const res = await request('GET', `${srv.url}/health`)
  t.equal(res.status, 200)
  t.equal(res.json().status, 'ok')
  t.match(res.json().store, /^(memory|redis)$/)
  const ready = await request('GET', `${srv.url}/ready`, { headers: AUTH })
  t.equal(ready.status, 200)
})
