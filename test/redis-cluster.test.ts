import t from 'tap'
import { AUTH, SseClient, post, postUntilAccepted, request, startApp } from './helper.js'
import { everythingOptions } from './mcp-features.js'
import { redisUnavailable, startRedisCluster, type RedisCluster } from './redis-server.js'

const skip = redisUnavailable()
const call = (id: string) => ({ type: 'call_tool', request_id: id, data: { name: 'get_time' } })
let cluster: RedisCluster | undefined

t.before(async () => { if (!skip) cluster = await startRedisCluster() })
t.teardown(async () => { await cluster?.dispose() })

t.test('two instances on a 3-master Redis Cluster', { skip: skip ?? false }, async (t) => {
  const sessions = { redisClusterNodes: cluster!.addresses, redisKeyPrefix: 'c2:' }
  const a = await startApp(everythingOptions({ builtinTools: true, sessions }))
  const b = await startApp(everythingOptions({ builtinTools: true, sessions }))
  t.teardown(async () => { await a.close(); await b.close() })
  t.equal((await request('GET', `${a.url}/health`)).json().store, 'redis')
  // Many sessions, so their keys spread over every master's slots.
  const streams = await Promise.all(Array.from({ length: 12 }, (_, i) => SseClient.open(`${b.url}/events?session_id=spread-${i}`)))
  t.teardown(() => { for (const s of streams) s.close() })
  for (let i = 0; i < 12; i++) t.equal((await post(a.url, `/message?session_id=spread-${i}`, call(`c${i}`))).status, 202)
  for (let i = 0; i < 12; i++) t.equal((await streams[i].frameFor(`c${i}`)).type, 'tool_result', `session ${i}: posted on A, delivered on B`)
  const last = streams[0].events[0].id!
  await post(b.url, '/message?session_id=spread-0', call('later'))
  const replay = await SseClient.open(`${a.url}/events?session_id=spread-0`, { ...AUTH, 'last-event-id': last })
  t.teardown(() => replay.close())
  t.equal((await replay.frameFor('later')).type, 'tool_result', 'Last-Event-ID replays across instances')

  // 2026 listeners hear a change published through the other instance.
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} }
  const listen = await SseClient.request('POST', `${b.url}/mcp`, {
    ...AUTH, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen'
  }, JSON.stringify({ jsonrpc: '2.0', id: 'L', method: 'subscriptions/listen', params: { _meta: meta, notifications: { toolsListChanged: true } } }))
  t.teardown(() => listen.close())
  await listen.until((c) => c.events.length >= 1, 5000, 'the acknowledgement')
  await request('POST', `${a.url}/mcp`, {
    headers: { ...AUTH, accept: 'application/json', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'test_trigger_tool_change' },
    body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'test_trigger_tool_change', _meta: meta } }
  })
  await listen.until((c) => c.events.length >= 2, 5000, 'the change')
  t.equal(listen.events[1].json().method, 'notifications/tools/list_changed')
})

t.test('a cluster master restarted under a live stream: 503 meanwhile, then the stream resumes', { skip: skip ?? false }, async (t) => {
  const srv = await startApp({ sessions: { redisClusterNodes: cluster!.addresses, redisKeyPrefix: 'c3:' } })
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/events?session_id=outage`)
  t.teardown(() => sse.close())
  await post(srv.url, '/message?session_id=outage', call('before'))
  await sse.frameFor('before')
  // Restart every master in turn: whichever holds the session's slot goes away for a moment.
  for (const node of cluster!.nodes) {
    await node.stop()
    const during = await post(srv.url, '/message?session_id=outage', call('during'))
    t.ok([202, 503].includes(during.status), `a POST while one master is down is answered at once (${during.status})`)
    await node.start()
  }
  const status = await postUntilAccepted(srv.url, '/message?session_id=outage', call('after'), 20_000)
  t.equal(status, 202, 'accepted again once the masters are back')
  t.equal((await sse.frameFor('after', 15_000)).type, 'tool_result', 'the same stream resumed')
  t.notOk(sse.ended, 'the stream stayed open')
})
