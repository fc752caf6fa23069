import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { blockedReason } from '../lib/security/ssrf-guard.js'
import { resolveConfig } from '../config.js'
import type { FetchUrlOptions } from '../schemas/options.js'
import { createFetchUrlTool, type FetchUrlResult } from '../tools/fetch-url.js'
import { SseClient, post, startApp } from './helper.js'

const silentLog = { warn () {}, info () {}, error () {}, debug () {}, child () { return this } }

function tool (overrides: Partial<FetchUrlOptions> = {}) {
  const opts = { ...resolveConfig({}).fetchUrl, ...overrides }
  const def = createFetchUrlTool(opts)
  t.teardown(() => def.close?.())
  return (url: string, signal = new AbortController().signal) => def.handler({ url }, {
    principal: { id: 'local', kind: 'local', scopes: [] }, sessionId: 's', signal, log: silentLog as never
  }) as Promise<FetchUrlResult>
}

async function server (handler: http.RequestListener) {
  const srv = http.createServer(handler)
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { srv.closeAllConnections(); srv.close() })
  const port = (srv.address() as AddressInfo).port
  return { srv, port, host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` }
}

t.test('address classifier', async (t) => {
  const blocked: Array<[string, RegExp]> = [
    ['127.0.0.1', /loopback/], ['127.255.0.9', /loopback/], ['10.1.2.3', /private/], ['172.16.0.1', /private/],
    ['192.168.1.1', /private/], ['169.254.169.254', /linkLocal/], ['100.64.0.1', /carrierGradeNat/],
    ['0.0.0.0', /unspecified/], ['224.0.0.1', /multicast/], ['255.255.255.255', /broadcast/],
    ['240.0.0.1', /reserved/], ['192.0.2.1', /reserved/], ['198.51.100.7', /reserved/], ['203.0.113.9', /reserved/],
    ['::1', /loopback/], ['::', /unspecified/], ['fe80::1', /linkLocal/], ['fc00::1', /uniqueLocal/], ['fd12:3456::1', /uniqueLocal/],
    ['ff02::1', /multicast/], ['::ffff:127.0.0.1', /IPv4-mapped loopback/], ['::ffff:8.8.8.8', /IPv4-mapped/],
    ['64:ff9b::7f00:1', /rfc6052/], ['2002:7f00:1::', /6to4/], ['2001::1', /teredo/], ['2001:db8::1', /reserved/],
    ['[::1]', /loopback/], ['::7f00:1', /IPv4-compatible/], ['::a00:1', /IPv4-compatible/], ['not-an-ip', /not an IP/]
  ]
  for (const [address, reason] of blocked) t.match(blockedReason(address), reason, `${address} is blocked`)
  for (const address of ['8.8.8.8', '93.184.215.14', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001::200e']) {
    t.equal(blockedReason(address), null, `${address} is public`)
  }
})

t.test('private destinations are refused by default', async (t) => {
  let hits = 0
  const target = await server((_req, res) => { hits++; res.end('secret') })
  const fetchUrl = tool()
  const port = target.port
  const urls = [
    `http://127.0.0.1:${port}/`, `http://localhost:${port}/`, `http://[::1]:${port}/`,
    `http://[::ffff:127.0.0.1]:${port}/`, `http://[::ffff:7f00:1]:${port}/`, `http://[::7f00:1]:${port}/`,
    `http://2130706433:${port}/`, `http://0x7f000001:${port}/`, `http://0177.0.0.1:${port}/`, `http://127.1:${port}/`,
    'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/', 'http://[fd00::1]/', 'http://0.0.0.0/'
  ]
  for (const url of urls) {
    await t.rejects(fetchUrl(url), /destination .* is not allowed/, `${url} refused`)
  }
  t.equal(hits, 0, 'the private server never saw a request')
})

t.test('only http and https', async (t) => {
  const fetchUrl = tool()
  for (const [url, scheme] of [['file:///etc/passwd', 'file'], ['ftp://example.org/', 'ftp'], ['gopher://x/', 'gopher'], ['javascript:alert(1)', 'javascript']]) {
    await t.rejects(fetchUrl(url), new RegExp(`scheme "${scheme}" is not allowed`), url)
  }
  await t.rejects(fetchUrl('not a url'), /not a valid URL/)
  await t.rejects(fetchUrl('http://user:pw@example.org/'), /credentials/)
})

t.test('allow-list opens exact hosts only, and redirects are re-checked', async (t) => {
  const other = await server((_req, res) => res.end('other'))
  const target = await server((req, res) => {
    if (req.url === '/hop') { res.writeHead(302, { location: `${other.url}/x` }); return res.end() }
    if (req.url === '/meta') { res.writeHead(301, { location: 'http://169.254.169.254/' }); return res.end() }
    if (req.url === '/local') { res.writeHead(302, { location: '/final' }); return res.end() }
    res.setHeader('content-type', 'text/plain')
    res.end(`ok ${req.url} auth=${req.headers.authorization ?? 'none'} cookie=${req.headers.cookie ?? 'none'}`)
  })
  const fetchUrl = tool({ allowedHosts: [target.host] })
  const ok = await fetchUrl(`${target.url}/page`)
  t.equal(ok.status, 200)
  t.equal(ok.content, 'ok /page auth=none cookie=none', 'no caller credentials are forwarded')
  t.equal(ok.content_type, 'text/plain')
  t.equal(ok.url, `${target.url}/page`)
  t.equal(ok.truncated, false)
  t.equal(ok.bytes, ok.content.length)

  const relative = await fetchUrl(`${target.url}/local`)
  t.equal(relative.url, `${target.url}/final`, 'relative redirects resolve against the current URL')

  await t.rejects(fetchUrl(`${target.url}/hop`), /destination 127\.0\.0\.1 is not allowed/, 'a redirect to a host off the list is blocked')
  await t.rejects(fetchUrl(`${target.url}/meta`), /169\.254\.169\.254 is not allowed/, 'a redirect to cloud metadata is blocked')

  const byName = tool({ allowedHosts: ['127.0.0.1'] })
  t.equal((await byName(`${other.url}/x`)).content, 'other', 'a bare host allows any port')
})

t.test('redirect limit', async (t) => {
  const loop = await server((req, res) => {
    const n = Number(req.url!.slice(1)) || 0
    res.writeHead(302, { location: `/${n + 1}` })
    res.end()
  })
  await t.rejects(tool({ allowedHosts: [loop.host] })(`${loop.url}/0`), /too many redirects \(more than 3\)/)
  const ok = await tool({ allowedHosts: [loop.host], maxRedirects: 0 })(`${loop.url}/0`).catch((e: Error) => e)
  t.match(ok, /too many redirects \(more than 0\)/)
})

t.test('a server that never answers times out', async (t) => {
  const hang = await server(() => {})
  const started = Date.now()
  await t.rejects(tool({ allowedHosts: [hang.host], timeoutMs: 300 })(`${hang.url}/`), /timed out after 300 ms/)
  t.ok(Date.now() - started < 3000, 'gave up promptly')
})

t.test('an endless body is cut at maxBytes and the connection closed', async (t) => {
  let closedEarly = false
  let sent = 0
  const endless = await server((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    const chunk = Buffer.alloc(16 * 1024, 'a')
    const pump = () => { while (res.write(chunk)) { sent += chunk.length; if (sent > 64 * 1024 * 1024) return } }
    res.on('drain', pump)
    req.socket.on('close', () => { closedEarly = true })
    pump()
  })
  const result = await tool({ allowedHosts: [endless.host], maxBytes: 100_000, snippetChars: 50 })(`${endless.url}/`)
  t.equal(result.bytes, 100_000)
  t.equal(result.truncated, true)
  t.equal(result.content, 'a'.repeat(50))
  const deadline = Date.now() + 5000
  while (!closedEarly && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.ok(closedEarly, 'the server saw the connection close')
  t.ok(sent < 64 * 1024 * 1024, `the server stopped after ${sent} bytes, not at its own limit`)
})

t.test('cancelling the call aborts the fetch', async (t) => {
  let aborted = false
  const slow = await server((req) => { req.socket.on('close', () => { aborted = true }) })
  const controller = new AbortController()
  const pending = tool({ allowedHosts: [slow.host] })(`${slow.url}/`, controller.signal)
  setTimeout(() => controller.abort(), 100)
  await t.rejects(pending)
  const deadline = Date.now() + 3000
  while (!aborted && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.ok(aborted, 'the upstream connection was closed')
})

t.test('end to end: blocked and allowed through the envelope', async (t) => {
  const page = await server((_req, res) => res.end('hello'))
  const srv = await startApp({ fetchUrl: { allowedHosts: [page.host] } })
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/events?session_id=fetch`)
  t.teardown(() => sse.close())
  await post(srv.url, '/message?session_id=fetch', { type: 'call_tool', request_id: 'meta', data: { name: 'fetch_url', url: 'http://169.254.169.254/latest/meta-data/' } })
  await post(srv.url, '/message?session_id=fetch', { type: 'call_tool', request_id: 'ok', data: { name: 'fetch_url', arguments: { url: `${page.url}/` } } })
  const meta = await sse.frameFor('meta')
  t.equal(meta.type, 'error')
  t.equal(meta.code, 'tool_failed')
  t.match(meta.error, /destination 169\.254\.169\.254 is not allowed \(linkLocal\)/)
  const ok = await sse.frameFor('ok')
  t.equal(ok.type, 'tool_result')
  t.same({ status: ok.data.status, content: ok.data.content }, { status: 200, content: 'hello' })
})

t.test('many calls at once hold a snippet each, not a body each, and wait their turn for a socket', async (t) => {
  // Bodies just under the 1 MiB cap that stall before their end: a call that kept what it read
  // would hold ~1 MiB until then.
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  let peak = 0
  let open = 0
  let flushed = 0
  const up = await server((_req, res) => {
    peak = Math.max(peak, ++open)
    res.writeHead(200, { 'content-type': 'text/plain' })
    // The upstream lives in this process: until its write has left for the kernel its buffer
    // counts here too, so the measurement waits for every write's callback, not for a time.
    res.write(Buffer.alloc(1024 * 1024 - 1, 'a'), () => { flushed++ })
    released.then(() => { res.end('z'); open-- })
  })
  const srv = await startApp({ fetchUrl: { allowedHosts: [up.host], timeoutMs: 20_000 }, limits: { toolTimeoutMs: 30_000 } })
  t.teardown(srv.close)
  globalThis.gc?.()
  const before = process.memoryUsage().arrayBuffers
  const N = 160
  await Promise.all(Array.from({ length: N }, (_, i) =>
    post(srv.url, `/message?session_id=f${i}`, { type: 'call_tool', request_id: 'r', data: { name: 'fetch_url', url: `${up.url}/${i}` } })))
  const deadline = Date.now() + 15_000
  while ((open < 64 || flushed < open) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  globalThis.gc?.()
  const held = (process.memoryUsage().arrayBuffers - before) / 1048576
  t.ok(held < 48, `${N} calls in flight hold ${held.toFixed(1)} MiB of buffers (a body each would be ~${Math.min(N, 64)} MiB or more)`)
  t.equal(peak, 64, 'at most FETCH_URL_MAX_CONCURRENT (64) fetches at once; the rest wait')
  release()
  const results = await Promise.all(Array.from({ length: N }, async (_, i) => {
    const sse = await SseClient.open(`${srv.url}/events?session_id=f${i}`)
    try { return (await sse.frameFor('r', 20_000)).data } finally { sse.close() }
  }))
  t.equal(results.filter((r) => r?.status === 200 && r.bytes === 1024 * 1024 && r.truncated === true && r.content.length === 2000).length, N,
    'every call ends with its status, byte count and snippet')
})
