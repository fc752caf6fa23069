import http from 'node:http'
import t from 'tap'
import { createMemoryStore } from '../lib/stores/memory-store.js'
import { resolveConfig } from '../config.js'
import { AUTH, SseClient, eventually, openStreams, request, spawnServer, startApp } from './helper.js'
import { eachStore } from './stores.js'

eachStore("a principal's session budget evicts its least recently used idle session, refuses only when all are in use", async (t, start) => {
  const srv = await start({ sessions: { maxSessionsPerPrincipal: 3 } })
  t.teardown(srv.close)
  const open = (id: string) => request('POST', `${srv.url}/message?session_id=${id}`, { headers: AUTH, body: { type: 'list_tools', request_id: 'r' } })
  const streams: SseClient[] = []
  t.teardown(() => { for (const s of streams) s.close() })
  for (const id of ['s1', 's2', 's3']) {
    const sse = await SseClient.open(`${srv.url}/events?session_id=${id}`, AUTH)
    streams.push(sse)
    t.equal((await open(id)).status, 202)
    await sse.frameFor('r')
  }
  streams.shift()!.close()
  await eventually(async () => await openStreams(srv.url) === 2)
  t.equal((await open('s4')).status, 202, 'a fourth session makes room: s1 has no stream and nothing undelivered')
  const s4 = await SseClient.open(`${srv.url}/events?session_id=s4`, AUTH)
  streams.push(s4)
  await s4.frameFor('r')
  t.equal((await open('s2')).status, 202, 'the sessions in use keep working')
  const fifth = await open('s5')
  t.equal(fifth.status, 429, 'with every session streaming, a fifth is refused')
  t.equal(fifth.json().code, 'too_many_sessions_for_principal')
  t.match(fifth.json().message, /in use/)
})

t.test('retained bytes: per principal and server-wide budgets drop the oldest frames, never grow', async (t) => {
  const opts = resolveConfig({ sessions: { maxBytesPerPrincipal: 64 * 1024, maxTotalBytes: 96 * 1024 } }).sessions
  const store = createMemoryStore(opts)
  t.teardown(() => store.close())
  const frame = 'x'.repeat(1024)
  for (const s of ['a1', 'a2', 'a3']) await store.open(s, 'alice')
  for (let i = 0; i < 300; i++) await store.publish(`a${1 + (i % 3)}`, { data: frame })
  const retained = async (ids: string[]) => {
    let n = 0
    for (const id of ids) n += (await store.read(id, '0', 10_000)).events.length
    return n
  }
  const alice = await retained(['a1', 'a2', 'a3'])
  t.ok(alice <= 64 + 3, `alice keeps ${alice} KiB frames: her budget, plus each session's newest`)
  t.equal((await store.read('a1', '0', 10)).gap, true, 'a reader behind the dropped frames is told')

  for (const s of ['b1', 'c1']) await store.open(s, s)
  for (let i = 0; i < 200; i++) await store.publish(i % 2 ? 'b1' : 'c1', { data: frame })
  const all = await retained(['a1', 'a2', 'a3', 'b1', 'c1'])
  t.ok(all <= 96 + 5, `${all} KiB retained in all: the server budget holds across principals`)
})

t.test('a session opened without replay drops what was delivered and frees its budget', async (t) => {
  const opts = resolveConfig({ sessions: { maxBytesPerPrincipal: 8 * 1024 } }).sessions
  const store = createMemoryStore(opts)
  t.teardown(() => store.close())
  const frame = 'x'.repeat(1024)
  await store.open('once', 'alice', { replay: false })
  await store.open('kept', 'alice')
  for (let i = 0; i < 3; i++) {
    await store.publish('once', { data: frame })
    await store.publish('kept', { data: frame })
  }
  const onceIds = (await store.read('once', null, 10)).events.map((e) => e.id)
  await store.ack('once', onceIds[1])
  await store.ack('kept', (await store.read('kept', null, 10)).events[1].id)
  const again = await store.read('once', '0', 10)
  t.same(again.events.map((e) => e.id), [onceIds[2]], 'only the undelivered event is left')
  t.equal(again.gap, true, 'a reader asking for delivered ones is told they are gone')
  t.same((await store.read('once', null, 10)).events.map((e) => e.id), [onceIds[2]], 'the next read still gets it')
  t.equal((await store.read('kept', '0', 10)).events.length, 3, 'a session with replay keeps delivered events')
  // alice's budget counts 4 retained KiB now, so 4 more fit without dropping anything.
  for (let i = 0; i < 4; i++) await store.publish('kept', { data: frame })
  t.equal((await store.read('kept', '0', 20)).events.length, 7, 'the dropped bytes were returned to the budget')
})

t.test('a bounded attack on a small heap: the process lives and answers', async (t) => {
  const { child, base, output } = await spawnServer(t, { heapMb: 96, args: ['-l', 'error'], env: { LOCAL_BEARER_TOKEN: 'attack-test-token' } })
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
  t.teardown(() => agent.destroy())
  const name = 'n'.repeat(60_000)
  const body = JSON.stringify({ type: 'call_tool', request_id: 'r', data: { name } })
  const post = (session: string) => new Promise<number>((resolve) => {
    const req = http.request(`${base}/message?session_id=${session}`, {
      method: 'POST', agent, headers: { authorization: 'Bearer attack-test-token', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)) })
    req.on('error', () => resolve(0))
    req.end(body)
  })
  // 300 sessions × 12 POSTs of a 60,000-character unknown tool name, 16 at a time.
  const statuses: number[] = []
  const jobs = Array.from({ length: 300 * 12 }, (_, i) => `s${i % 300}`)
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let job = jobs.shift(); job !== undefined; job = jobs.shift()) statuses.push(await post(job))
  }))
  t.equal(child.exitCode, null, 'the process is alive')
  t.equal((await request('GET', `${base}/health`)).status, 200, 'and answers')
  t.equal(statuses.filter((s) => s === 202).length, 300 * 12, 'one token, 300 sessions: every POST was served, none refused')
  const metrics = await request('GET', `${base}/metrics`)
  const heap = Number(/^datapulse_nodejs_heap_size_used_bytes (\d+(\.\d+)?(e\+\d+)?)/m.exec(metrics.text)?.[1])
  t.ok(heap > 0 && heap < 96 * 1024 * 1024, `heap in use ${Math.round(heap / 1048576)} MiB, under the 96 MiB limit`)
  t.notMatch(output(), /heap out of memory/i)
})
