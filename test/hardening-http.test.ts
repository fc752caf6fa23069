import http from 'node:http'
import t from 'tap'
import Fastify from 'fastify'
import dataPulse from '../app.js'
import { AUTH, request, startApp } from './helper.js'
import { makeKeyPair, startIssuer } from './jwt-keys.js'

t.test('DNS rebinding: Host and Origin are checked on every route', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const port = new URL(srv.url).port
  const routes: Array<[string, string, unknown?]> = [
    ['GET', '/events?session_id=x'], ['POST', '/message?session_id=x', { type: 'list_tools', request_id: 'r' }],
    ['GET', '/sse'], ['POST', '/mcp', { jsonrpc: '2.0', id: 1, method: 'ping' }], ['GET', '/metrics'], ['POST', '/events/ticket?session_id=x']
  ]
  for (const [method, path, body] of routes) {
    const rebound = await request(method, srv.url + path, { headers: { ...AUTH, host: `evil.example:${port}` }, body })
    t.equal(rebound.status, 403, `${method} ${path}: a foreign Host → 403`)
    t.equal(rebound.json().code, 'host_forbidden')
    const foreign = await request(method, srv.url + path, { headers: { ...AUTH, origin: 'http://evil.example' }, body })
    t.equal(foreign.status, 403, `${method} ${path}: a foreign Origin → 403`)
  }
  t.equal((await request('GET', `${srv.url}/health`, { headers: { host: '10.0.0.7:8000' } })).status, 200, 'probes may address /health by IP')
  t.equal((await request('POST', `${srv.url}/message?session_id=x`, { headers: { ...AUTH, host: `localhost:${port}`, origin: `http://localhost:${port}` }, body: { type: 'list_tools', request_id: 'r' } })).status, 202,
    'localhost names pass')
})

t.test('PUBLIC_URL and ALLOWED_HOSTS widen the Host check; metadata never reflects Host', async (t) => {
  const issuer = await startIssuer([makeKeyPair('m')])
  t.teardown(issuer.close)
  const srv = await startApp({
    auth: { jwtIssuer: issuer.url, allowLocalBearer: true },
    http: { publicUrl: 'https://mcp.example.com', allowedHosts: ['internal.lan:8443'], allowedOrigins: ['https://app.example.com'] }
  })
  t.teardown(srv.close)
  const via = (host: string, origin?: string) => request('GET', `${srv.url}/.well-known/oauth-protected-resource/mcp`, { headers: { host, ...(origin ? { origin } : {}) } })
  const meta = await via('mcp.example.com')
  t.equal(meta.status, 200, 'the public host is accepted')
  t.equal(meta.json().resource, 'https://mcp.example.com/mcp', 'the path-specific document names exactly the MCP endpoint')
  t.equal((await via('internal.lan:8443')).json().resource, 'https://mcp.example.com/mcp', 'derived from PUBLIC_URL, not from Host')
  t.equal((await via('mcp.example.com', 'https://app.example.com')).status, 200, 'a listed origin passes')
  t.equal((await via('mcp.example.com', 'https://mcp.example.com')).status, 200, "the public URL's own origin passes")
  t.equal((await via('attacker.example')).status, 403)
  const unauth = await request('POST', `${srv.url}/mcp`, { headers: { host: 'mcp.example.com', accept: 'application/json' }, body: { jsonrpc: '2.0', id: 1, method: 'ping' } })
  t.equal(unauth.status, 401)
  t.match(unauth.headers['www-authenticate'], /resource_metadata="https:\/\/mcp\.example\.com\/\.well-known\/oauth-protected-resource\/mcp"/)
})

t.test('bad PUBLIC_URL and origin settings fail at start, naming the variable', async (t) => {
  for (const [http, message] of [
    [{ publicUrl: 'not a url' }, /PUBLIC_URL/],
    [{ corsOrigins: ['notaurl'] }, /CORS_ORIGINS/],
    [{ allowedOrigins: ['https://ok.example/path'] }, /ALLOWED_ORIGINS/]
  ] as const) {
    const app = Fastify({ logger: false })
    await t.rejects(app.register(dataPulse, { env: false, auth: { bearerToken: 'x' }, http }).ready(), message)
    await app.close()
  }
})

t.test('sockets are capped in all and per address; idle ones do not hold the server', async (t) => {
  const net = await import('node:net')
  const { options } = await import('../app.js')
  t.equal((options as { keepAliveTimeout?: number }).keepAliveTimeout, 10_000, 'idle keep-alive sockets close after 10 s')
  const { resolveConfig } = await import('../config.js')
  t.equal(resolveConfig({}).http.maxConnectionsPerIp, 512, 'a per-address cap is on by default')
  t.same(resolveConfig({}).http.connectionLimitExempt, ['127.0.0.0/8', '::1/128'], 'with a proxy on this host exempt')
  const srv = await startApp({ http: { maxConnectionsPerIp: 20, connectionLimitExempt: [] } })
  t.teardown(srv.close)
  t.equal(srv.app.server.headersTimeout, 10_000, 'headers must arrive within 10 s')
  const port = Number(new URL(srv.url).port)
  const sockets = await Promise.all(Array.from({ length: 25 }, () => new Promise<import('node:net').Socket>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s))
    s.on('error', () => {})
  })))
  const closed = () => sockets.filter((s) => s.destroyed || s.readyState !== 'open').length
  // Waits for the server to act (late on a loaded machine), not for a time.
  const deadline = Date.now() + 10_000
  while (closed() < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(closed(), 5, 'sockets over the per-address cap are closed at once')
  for (const s of sockets) s.destroy()
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal((await request('GET', `${srv.url}/health`)).status, 200, 'the server answers once they are gone')
  // Every closed socket gave its place back: the whole cap is there again, and no more. (Waits for
  // the server to have closed its side of each, the /health one too; 'close' follows a tick later.)
  const connections = () => new Promise<number>((resolve) => srv.app.server.getConnections((_, n) => resolve(n)))
  while (await connections() > 0) await new Promise((resolve) => setTimeout(resolve, 10))
  await new Promise((resolve) => setImmediate(resolve))
  const again = await Promise.all(Array.from({ length: 21 }, () => new Promise<import('node:net').Socket>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s))
    s.on('error', () => {})
  })))
  const refused = new Promise<number>((resolve) => {
    for (const [i, s] of again.entries()) s.once('close', () => resolve(i))
  })
  await refused
  t.equal(again.filter((s) => !s.destroyed && s.readyState === 'open').length, 20, 'the cap is whole again after sockets closed')
  for (const s of again) s.destroy()
})

t.test('tickets are bounded per session, never refused; batches are bounded', async (t) => {
  const srv = await startApp({ auth: { maxTicketsPerSession: 3 } })
  t.teardown(srv.close)
  const issue = async (session: string) => {
    const res = await request('POST', `${srv.url}/events/ticket?session_id=${session}`, { headers: AUTH })
    t.equal(res.status, 200, `a ticket for ${session}`)
    return res.json().ticket as string
  }
  // Whoever holds many unused tickets (one shared token: the same principal) blocks nobody.
  for (let i = 0; i < 40; i++) await issue('hoarder')
  const mine = [await issue('t1'), await issue('t1'), await issue('t1'), await issue('t1')]
  const opens = async (ticket: string) => {
    const res = await new Promise<number>((resolve, reject) => {
      const req = http.get(`${srv.url}/events?session_id=t1&ticket=${ticket}`, (r) => { resolve(r.statusCode ?? 0); r.destroy() })
      req.on('error', reject)
    })
    return res
  }
  t.equal(await opens(mine[0]), 401, "a session's oldest ticket is retired by the one past its budget")
  t.equal(await opens(mine[3]), 200, 'the newest one opens the stream')
  const init = await request('POST', `${srv.url}/mcp`, {
    headers: { ...AUTH, accept: 'application/json' },
    body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'b', version: '1' } } }
  })
  const headers = { ...AUTH, accept: 'application/json', 'mcp-session-id': init.headers['mcp-session-id'] as string, 'mcp-protocol-version': '2025-03-26' }
  const huge = Array.from({ length: 1900 }, () => ({ jsonrpc: '2.0', method: 'n' }))
  const res = await request('POST', `${srv.url}/mcp`, { headers, body: huge })
  t.equal(res.status, 400, 'a batch of thousands of messages is refused whole')
  t.match(res.json().error.message, /at most 100 messages/)
})

t.test('a stream ends when the token that opened it expires', async (t) => {
  const { makeKeyPair: pairOf, signToken } = await import('./jwt-keys.js')
  const { SseClient } = await import('./helper.js')
  const pair = pairOf()
  const srv = await startApp({ auth: { jwtKey: pair.publicPem, clockToleranceSeconds: 0 } })
  t.teardown(srv.close)
  const token = signToken(pair, { exp: Math.floor(Date.now() / 1000) + 2 })
  const stream = await SseClient.open(`${srv.url}/events?session_id=exp`, { authorization: `Bearer ${token}` })
  t.equal(stream.status, 200)
  await stream.until((c) => c.ended, 5000, 'the stream to end at exp')
  t.ok(stream.comments.some((c) => /token expired/.test(c)), 'with a comment saying why')
})

t.test('a request id already in flight cannot take a second slot', async (t) => {
  const { testTools } = await import('./tools-fixture.js')
  const { tools, aborted } = testTools()
  const srv = await startApp({ tools, mcp: { jsonWindowMs: 0 } })
  t.teardown(srv.close)
  const call = (tag: string) => ({ type: 'call_tool', request_id: 'same', data: { name: 'sleep', arguments: { ms: 2000, tag } } })
  t.equal((await request('POST', `${srv.url}/message?session_id=dup`, { headers: AUTH, body: call('first') })).status, 202)
  const second = await request('POST', `${srv.url}/message?session_id=dup`, { headers: AUTH, body: call('second') })
  t.equal(second.status, 409, 'the envelope refuses a duplicate id')
  t.equal(second.json().code, 'duplicate_request_id')
  await request('DELETE', `${srv.url}/events?session_id=dup`, { headers: AUTH }).catch(() => {})
  t.same(aborted, [], 'nothing escaped its slot')
})

t.test('anonymous loopback access ends where a proxy begins', async (t) => {
  const srv = await startApp({ auth: { anonymous: true } })
  t.teardown(srv.close)
  const body = { type: 'list_tools', request_id: 'a' }
  t.equal((await request('POST', `${srv.url}/message?session_id=anon`, { body })).status, 202, 'a local client needs no token')
  for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
    const res = await request('POST', `${srv.url}/message?session_id=anon`, { headers: { [header]: header === 'forwarded' ? 'for=203.0.113.7' : '203.0.113.7' }, body })
    t.equal(res.status, 401, `a request a proxy forwarded (${header}) is not local`)
  }
})
