import http from 'node:http'
import t from 'tap'
import { TOKEN, request, startApp } from './helper.js'

// A small seeded generator, so a failing case can be replayed.
function rng (seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
}

const NASTY = ['', ' ', '\u0000', '%', '%zz', '../..', '\u202e', '😀', '"', "'", '<script>', '{', '}', '[', 'null', 'true',
  '-1', '1e309', 'NaN', 'x'.repeat(300), '__proto__', 'constructor', '\\', '\r\n', '&', '=', '?', '#']

function pick<T> (r: () => number, xs: readonly T[]): T { return xs[Math.floor(r() * xs.length)] }

function body (r: () => number): string | undefined {
  const kinds = [
    () => undefined,
    () => pick(r, NASTY),
    () => JSON.stringify({ type: pick(r, ['list_tools', 'call_tool', 'x', 1, null]), request_id: pick(r, ['r', '', 5, null, NASTY[19]]), data: pick(r, [{}, [], 'x', null, { name: pick(r, NASTY) }, { name: 'fetch_url', url: pick(r, NASTY) }, { name: 'get_time', arguments: pick(r, [1, 'x', [], {}]) }]) }),
    () => JSON.stringify({ jsonrpc: pick(r, ['2.0', '1.0', 2]), id: pick(r, [1, 'a', null, {}, 1.5]), method: pick(r, ['initialize', 'tools/call', 'tools/list', 'ping', '', 'notifications/cancelled', 7]), params: pick(r, [{}, [], 'x', { name: 'get_time' }, { cursor: pick(r, NASTY) }, { requestId: {} }]) }),
    () => JSON.stringify(Array.from({ length: Math.floor(r() * 5) }, () => ({ jsonrpc: '2.0', id: Math.floor(r() * 9), method: 'ping' }))),
    () => '{"a":'.repeat(Math.floor(r() * 200)),
    () => JSON.stringify({ type: 'call_tool', request_id: 'deep', data: JSON.parse('{"a":'.repeat(60) + '1' + '}'.repeat(60)) }),
    () => 'x'.repeat(Math.floor(r() * 100_000))
  ]
  return pick(r, kinds)()
}

function headers (r: () => number): Record<string, string> {
  const h: Record<string, string> = {}
  const auth = pick(r, [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`, `Bearer ${TOKEN}`, 'Bearer', 'Basic x', `bearer ${TOKEN}`, `Bearer ${'a.'.repeat(5000)}`, 'Bearer a.b.c', `Bearer ${TOKEN} extra`, ''])
  if (auth) h.authorization = auth
  const type = pick(r, ['application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/json; charset=latin1', '', 'x/y'])
  if (type) h['content-type'] = type
  if (r() < 0.3) h.accept = pick(r, ['text/event-stream', 'application/json, text/event-stream', '*/*', 'x'])
  if (r() < 0.2) h['mcp-session-id'] = pick(r, NASTY).replace(/[^\x21-\x7e]/g, '') || 'x'
  if (r() < 0.2) h['mcp-protocol-version'] = pick(r, ['2025-06-18', '2025-03-26', '1', ''])
  if (r() < 0.2) h['last-event-id'] = pick(r, ['1', '-5', 'abc', '99999999999999999999', ''])
  if (r() < 0.1) h.origin = pick(r, ['http://evil.example', 'null', 'http://localhost:1', '%%'])
  return h
}

function target (r: () => number): [string, string] {
  const qs = pick(r, ['', '?session_id=', `?session_id=${encodeURIComponent(pick(r, NASTY))}`, '?session_id=ok', '?session_id=ok&session_id=two',
    '?sessionId=x', '?session_id=ok&last_event_id=%ff', '?%', '?session_id[]=a', `?session_id=${'a'.repeat(200)}`])
  return pick(r, [['POST', `/message${qs}`], ['GET', `/events${qs}`], ['POST', '/mcp'], ['GET', '/mcp'], ['DELETE', '/mcp'],
    ['POST', `/messages${qs}`], ['PUT', '/message'], ['GET', '/nope'], ['OPTIONS', '/message'], ['POST', '/events'], ['GET', '/../../etc/passwd']])
}

/** Sends one request and resolves with its status; SSE answers are closed as soon as they start. */
function send (base: string, method: string, path: string, h: Record<string, string>, payload: string | undefined): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(base + path, { method, headers: payload === undefined ? h : { ...h, 'content-length': String(Buffer.byteLength(payload)) }, agent: false }, (res) => {
      res.resume()
      if (/event-stream/.test(String(res.headers['content-type']))) { req.destroy(); return resolve(res.statusCode ?? 0) }
      res.on('end', () => resolve(res.statusCode ?? 0))
      res.on('error', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', () => resolve(-1))
    req.setTimeout(10_000, () => { req.destroy(); resolve(-2) })
    req.end(payload)
  })
}

t.test('fuzzed requests never get a 5xx and never bring the server down', async (t) => {
  const srv = await startApp({ limits: { toolTimeoutMs: 2000 }, fetchUrl: { timeoutMs: 500 } })
  t.teardown(srv.close)
  const r = rng(20261124)
  const gc = (globalThis as { gc?: () => void }).gc
  const round = async (n: number) => {
    const bad: string[] = []
    for (let i = 0; i < n; i++) {
      const [method, path] = target(r)
      const h = headers(r)
      const payload = method === 'GET' || method === 'DELETE' ? undefined : body(r)
      const status = await send(srv.url, method, path, h, payload)
      if (status >= 500 || status < 0) bad.push(`${status} ${method} ${path} ${JSON.stringify(h).slice(0, 200)} ${String(payload).slice(0, 100)}`)
    }
    return bad
  }
  t.same(await round(150), [], 'round 1: no 5xx, no dropped connection')
  gc?.()
  const before = process.memoryUsage().heapUsed
  t.same(await round(150), [], 'round 2: no 5xx, no dropped connection')
  gc?.()
  const grown = process.memoryUsage().heapUsed - before
  t.ok(grown < 30 * 1024 * 1024, `heap grew ${(grown / 1024 / 1024).toFixed(1)} MiB over 150 more requests`)
  const health = await request('GET', `${srv.url}/health`)
  t.equal(health.status, 200, 'still serving')
})
