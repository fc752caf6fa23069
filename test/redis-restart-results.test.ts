import t from 'tap'
import { AUTH, SseClient, post, request, startApp } from './helper.js'
import { sleepTool } from './mcp-features.js'
import { redisUnavailable, startRedis } from './redis-server.js'

const skip = redisUnavailable()
// Long enough that the first calls are still running when the last are accepted.
const ms = (i: number) => 2500 + (i * 37) % 1500

/** What became of one accepted call: its result, an explicit error, or nothing yet. */
type Outcome = 'result' | 'error' | 'pending'

t.test('Redis restarted while 500 accepted calls finish: every call ends with its result or an explicit error', { skip: skip ?? false }, async (t) => {
  const redis = await startRedis({ persistent: true })
  t.teardown(redis.dispose)
  const srv = await startApp({ tools: [sleepTool], sessions: { redisUrl: redis.url } })
  t.teardown(srv.close)
  const streams: SseClient[] = []
  t.teardown(() => { for (const s of streams) s.close() })
  const checks: Array<() => Outcome> = []

  // Envelope: 20 sessions with their streams, 9 calls each.
  for (let s = 0; s < 20; s++) {
    const sse = await SseClient.open(`${srv.url}/events?session_id=env${s}`)
    streams.push(sse)
    for (let c = 0; c < 9; c++) {
      const id = `e${s}-${c}`
      const res = await post(srv.url, `/message?session_id=env${s}`, { type: 'call_tool', request_id: id, data: { name: 'sleep', arguments: { ms: ms(s * 9 + c) } } })
      t.equal(res.status, 202, `envelope ${id} accepted`, { diagnostic: res.status !== 202 })
      checks.push(() => {
        const frame = sse.events.map((e) => e.json()).find((j) => j.request_id === id)
        return frame?.type === 'tool_result' ? 'result' : frame?.type === 'error' || sse.ended ? 'error' : 'pending'
      })
    }
  }

  // HTTP+SSE: 10 sessions, 16 calls each, answered on the session's stream.
  for (let s = 0; s < 10; s++) {
    const sse = await SseClient.open(`${srv.url}/sse`)
    streams.push(sse)
    await sse.until((c) => c.events.some((e) => e.event === 'endpoint'), 5000, 'the endpoint event')
    const endpoint = srv.url + sse.events.find((e) => e.event === 'endpoint')!.data
    const rpc = (body: unknown) => request('POST', endpoint, { headers: AUTH, body })
    await rpc({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'r', version: '1' } } })
    await sse.frameFor('init')
    await rpc({ jsonrpc: '2.0', method: 'notifications/initialized' })
    for (let c = 0; c < 16; c++) {
      const id = `h${s}-${c}`
      const res = await rpc({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'sleep', arguments: { ms: ms(s * 16 + c) } } })
      t.equal(res.status, 202, `HTTP+SSE ${id} accepted`, { diagnostic: res.status !== 202 })
      checks.push(() => {
        const frame = sse.events.map((e) => { try { return e.json() } catch { return null } }).find((j) => j?.id === id)
        return frame?.result?.content ? 'result' : frame?.error || sse.ended ? 'error' : 'pending'
      })
    }
  }

  // Streamable HTTP: 10 sessions, 16 calls each, each answered on its POST's own SSE stream.
  for (let s = 0; s < 10; s++) {
    const init = await request('POST', `${srv.url}/mcp`, {
      headers: { ...AUTH, accept: 'application/json, text/event-stream' },
      body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'r', version: '1' } } }
    })
    const headers = { ...AUTH, 'mcp-session-id': String(init.headers['mcp-session-id']), 'mcp-protocol-version': '2025-11-25', accept: 'application/json, text/event-stream' }
    await request('POST', `${srv.url}/mcp`, { headers, body: { jsonrpc: '2.0', method: 'notifications/initialized' } })
    // Their answers start after the JSON window (500 ms), so all 16 are sent at once.
    const answers = await Promise.all(Array.from({ length: 16 }, (_, c) => SseClient.request('POST', `${srv.url}/mcp`, { ...headers, 'content-type': 'application/json' },
      JSON.stringify({ jsonrpc: '2.0', id: `m${s}-${c}`, method: 'tools/call', params: { name: 'sleep', arguments: { ms: ms(s * 16 + c) } } }))))
    for (let c = 0; c < 16; c++) {
      const id = `m${s}-${c}`
      const answer = answers[c]
      streams.push(answer)
      t.equal(answer.status, 200, `Streamable ${id} accepted`, { diagnostic: answer.status !== 200 })
      checks.push(() => {
        if (answer.status !== 200) return 'error'
        const frame = answer.events.map((e) => { try { return e.json() } catch { return null } }).find((j) => j?.id === id)
        return frame?.result?.content ? 'result' : frame?.error || answer.ended ? 'error' : 'pending'
      })
    }
  }
  t.equal(checks.length, 500, '500 accepted calls')

  // The calls finish while Redis is down (~4 s, its append-only file kept), then it comes back.
  await redis.stop()
  await new Promise((resolve) => setTimeout(resolve, 4000))
  await redis.start()

  const count = () => {
    const tally = { result: 0, error: 0, pending: 0 }
    for (const check of checks) tally[check()]++
    return tally
  }
  const deadline = Date.now() + 40_000
  while (count().pending > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200))
  const { result, error, pending } = count()
  t.equal(pending, 0, `no call hangs (${result} results, ${error} explicit errors)`)
  t.equal(result, 500, 'the outage was shorter than SSE_RESULT_RETRY_MS: every call got its result')
})

t.test('an outage longer than SSE_RESULT_RETRY_MS ends the session\'s stream, so its client knows', { skip: skip ?? false }, async (t) => {
  const redis = await startRedis({ persistent: true })
  t.teardown(redis.dispose)
  const srv = await startApp({ tools: [sleepTool], sessions: { redisUrl: redis.url }, sse: { resultRetryMs: 1000 } })
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/events?session_id=long-outage`)
  t.teardown(() => sse.close())
  t.equal((await post(srv.url, '/message?session_id=long-outage', { type: 'call_tool', request_id: 'x', data: { name: 'sleep', arguments: { ms: 200 } } })).status, 202)
  await redis.stop()
  await sse.until((c) => c.ended, 5000, 'the stream to end')
  t.ok(sse.comments.some((c) => /could not be stored; retry the request/.test(c)), 'with a comment saying why')
  await redis.start()
})
