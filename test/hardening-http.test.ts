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
