import { execFile } from 'node:child_process'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import Fastify from 'fastify'
import t from 'tap'
import dataPulse from '../app.js'
import { AUTH, SseClient, eventually, openStreams, post, postUntilAccepted, request, startApp } from './helper.js'
import { redisUnavailable, startRedis } from './redis-server.js'
import type { Test } from './stores.js'

const skip = redisUnavailable()
const call = (id: string) => ({ type: 'call_tool', request_id: id, data: { name: 'get_time' } })

/** A fresh redis-server and two instances on it (one key prefix), all stopped when `t` ends. */
async function twoInstances (t: Test, prefix: string) {
  const redis = await startRedis()
  t.teardown(redis.dispose)
  const sessions = { redisUrl: redis.url, redisKeyPrefix: prefix }
  const a = await startApp({ sessions })
  const b = await startApp({ sessions })
  t.teardown(async () => { await a.close(); await b.close() })
  return { redis, a, b }
}

/** redis-cli against `port`: its stdout. */
const redisCli = (port: number, ...args: string[]) => new Promise<string>((resolve, reject) => {
  execFile('redis-cli', ['-p', String(port), ...args], (err, stdout) => err ? reject(err) : resolve(stdout))
})

t.test('two instances, one Redis', { skip: skip ?? false }, async (t) => {
  const { a, b } = await twoInstances(t, 'two:')

  // Envelope: the stream is held by B, the POSTs go to A.
  const onB = await SseClient.open(`${b.url}/events?session_id=shared`)
  for (const id of ['x1', 'x2', 'x3']) t.equal((await post(a.url, '/message?session_id=shared', call(id))).status, 202)
  for (const id of ['x1', 'x2', 'x3']) t.equal((await onB.frameFor(id)).type, 'tool_result', `${id} posted on A arrived on B`)
  onB.close()

  // Replay after reconnecting to the other instance.
  await post(b.url, '/message?session_id=shared', call('x4'))
  const onA = await SseClient.open(`${a.url}/events?session_id=shared`, { ...AUTH, 'last-event-id': onB.events[0].id! })
  t.teardown(() => onA.close())
  await onA.until((c) => c.events.length >= 3)
  t.same(onA.events.map((e) => e.json().request_id), ['x2', 'x3', 'x4'], 'Last-Event-ID works across instances')

  // Streamable HTTP: a session created on A is usable on B.
  const viaA = new Client({ name: 'a', version: '1' })
  const transportA = new StreamableHTTPClientTransport(new URL(`${a.url}/mcp`), { requestInit: { headers: AUTH } })
  await viaA.connect(transportA)
  const sessionId = transportA.sessionId!
  const raw = await request('POST', `${b.url}/mcp`, {
    headers: { ...AUTH, accept: 'application/json', 'mcp-session-id': sessionId },
    body: { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'get_time', arguments: {} } }
  })
  t.equal(raw.status, 200, 'a Streamable HTTP session created on A answers on B')
  t.ok(raw.json().result.structuredContent.time)
  await viaA.close()

  // HTTP+SSE: the stream on A, the POST to B.
  const sse = await SseClient.open(`${a.url}/sse`)
  t.teardown(() => sse.close())
  await sse.until((c) => c.events.length > 0)
  const accepted = await request('POST', b.url + sse.events[0].data, { headers: AUTH, body: { jsonrpc: '2.0', id: 'cross', method: 'ping' } })
  t.equal(accepted.status, 202)
  t.same((await sse.frameFor('cross')).result, {}, 'a JSON-RPC POST on B answered on the stream held by A')

  // The SDK's SSE transport works against one instance while the other shares the store.
  const client = new Client({ name: 'c', version: '1' })
  await client.connect(new SSEClientTransport(new URL(`${b.url}/sse`), { requestInit: { headers: AUTH } }))
  t.equal((await client.listTools()).tools.length, 2)
  await client.close()
})

t.test('Redis restarted under a running stream: 503 during the outage, then the stream resumes', { skip: skip ?? false }, async (t) => {
  const redis = await startRedis({ persistent: true })
  t.teardown(redis.dispose)
  const srv = await startApp({ sessions: { redisUrl: redis.url } })
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/events?session_id=outage`)
  t.teardown(() => sse.close())
  await post(srv.url, '/message?session_id=outage', call('before'))
  await sse.frameFor('before')

  await redis.stop()
  const started = Date.now()
  const during = await post(srv.url, '/message?session_id=outage', call('during'))
  t.equal(during.status, 503, 'a POST during the outage is refused')
  t.equal(during.json().code, 'store_unavailable')
  t.ok(Date.now() - started < 3000, `and answered quickly (${Date.now() - started} ms), not hung`)
  const ready = await request('GET', `${srv.url}/ready`)
  t.equal(ready.status, 503, '/ready reports the outage')
  t.equal((await request('GET', `${srv.url}/health`)).status, 200, '/health (liveness) stays up')

  await redis.start()
  const status = await postUntilAccepted(srv.url, '/message?session_id=outage', call('after'), 15_000)
  t.equal(status, 202, 'POSTs are accepted again once Redis is back')
  t.equal((await sse.frameFor('after', 10_000)).type, 'tool_result', 'the same stream resumed')
  t.notOk(sse.ended, 'the stream stayed open through the outage')
  t.equal((await request('GET', `${srv.url}/ready`)).status, 200)
})

t.test('Redis unreachable at start: registration fails with a message naming REDIS_URL', { skip: skip ?? false }, async (t) => {
  const redis = await startRedis()
  await redis.dispose()
  const app = Fastify({ logger: false })
  app.register(dataPulse, { env: false, sessions: { redisUrl: redis.url } })
  await t.rejects(app.ready(), /cannot connect to Redis at REDIS_URL/)
  await app.close().catch(() => {})
})

t.test('scripts run by their SHA1, and a Redis that forgot them (SCRIPT FLUSH, a restart) is sent them again', { skip: skip ?? false }, async (t) => {
  const redis = await startRedis()
  t.teardown(redis.dispose)
  const srv = await startApp({ sessions: { redisUrl: redis.url, redisKeyPrefix: 'sha:' } })
  t.teardown(srv.close)
  const stream = await SseClient.open(`${srv.url}/events?session_id=sha`)
  t.teardown(() => stream.close())
  const cli = (...args: string[]) => redisCli(redis.port, ...args)
  const roundTrip = async (id: string) => {
    t.equal((await post(srv.url, '/message?session_id=sha', call(id))).status, 202)
    t.equal((await stream.frameFor(id)).type, 'tool_result', `${id} answered`)
  }
  await roundTrip('s1') // every script this path needs has run once
  await cli('CONFIG', 'RESETSTAT')
  for (const id of ['s2', 's3', 's4']) await roundTrip(id)
  const stats = await cli('INFO', 'commandstats')
  const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
  t.ok(calls('evalsha') >= 9, `scripts run as EVALSHA (${calls('evalsha')} for three calls)`)
  t.equal(calls('eval'), 0, 'the script text is not sent again')
  t.equal((await cli('SCRIPT', 'FLUSH')).trim(), 'OK')
  for (const id of ['s5', 's6']) await roundTrip(id)
})

t.test('delivery is acknowledged across instances: a fresh stream on any instance starts after what was delivered', { skip: skip ?? false }, async (t) => {
  const { redis, a, b } = await twoInstances(t, 'ack:')

  // Delivered while the stream stays open.
  const first = await SseClient.open(`${a.url}/events?session_id=acks`)
  for (const id of ['a1', 'a2', 'a3']) {
    await post(a.url, '/message?session_id=acks', call(id))
    await first.frameFor(id)
  }
  const cursor = async () => (await redisCli(redis.port, 'HGET', 'ack:{acks}:meta', 'cursor')).trim()
  await eventually(async () => await cursor() === first.events.at(-1)!.id)
  t.equal(await cursor(), first.events.at(-1)!.id, 'the open stream acknowledged its last frame')

  // Delivered just before the stream ends.
  await post(a.url, '/message?session_id=acks', call('a4'))
  await first.frameFor('a4')
  first.close()
  // Wait until A has seen the stream end, not for a time.
  await eventually(async () => await openStreams(a.url) === 0)
  await post(a.url, '/message?session_id=acks', call('b1'))
  const fresh = await SseClient.open(`${b.url}/events?session_id=acks`)
  t.teardown(() => fresh.close())
  await fresh.frameFor('b1')
  t.same(fresh.events.map((e) => e.json().request_id), ['b1'], 'a fresh stream on the other instance gets only what was not delivered')
})

t.test('a reader on the publishing instance takes its events from the reply: three scripts per call, nothing lost or repeated beside another instance', { skip: skip ?? false }, async (t) => {
  const { redis, a, b } = await twoInstances(t, 'tail:')
  const cli = (...args: string[]) => redisCli(redis.port, ...args)
  const stream = await SseClient.open(`${a.url}/events?session_id=tail`)
  t.teardown(() => stream.close())
  const roundTrip = async (base: string, id: string) => {
    t.equal((await post(base, '/message?session_id=tail', call(id))).status, 202)
    await stream.frameFor(id)
  }
  await roundTrip(a.url, 't0') // the stream's first read (after the delivery cursor) goes to Redis

  await cli('CONFIG', 'RESETSTAT')
  for (let i = 1; i <= 20; i++) await roundTrip(a.url, `t${i}`)
  const stats = await cli('INFO', 'commandstats')
  const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
  // Open, publish and ack; the read back (a fourth) is not made for events published here.
  t.equal(calls('evalsha'), 60, `three scripts per call (${calls('evalsha')} for 20 calls)`)
  t.equal(calls('xrange'), 0, 'no event was read back from Redis')

  // Both instances publish at once: A's events come from its replies, B's from Redis, in order.
  const ids = Array.from({ length: 60 }, (_, i) => `m${i}`)
  await Promise.all(ids.map((id, i) => post(i % 2 === 0 ? a.url : b.url, '/message?session_id=tail', call(id))))
  await stream.until((c) => c.events.length >= 21 + ids.length)
  const delivered = stream.events.map((e) => e.json().request_id as string)
  t.same([...delivered.slice(21)].sort(), [...ids].sort(), 'every call of both instances arrived once')
  t.equal(new Set(delivered).size, delivered.length, 'none twice')
  const streamIds = stream.events.map((e) => e.id!)
  t.same(streamIds, [...streamIds].sort((x, y) => {
    const [xm, xs] = x.split('-').map(Number)
    const [ym, ys] = y.split('-').map(Number)
    return xm - ym || xs - ys
  }), 'in the log\'s order')
  // And a reader elsewhere still replays all of it.
  const replay = await SseClient.open(`${b.url}/events?session_id=tail`, { ...AUTH, 'last-event-id': '0' })
  t.teardown(() => replay.close())
  await replay.until((c) => c.events.length >= delivered.length)
  t.same(replay.events.map((e) => e.json().request_id), delivered, 'the same events in the same order from Redis')
})
