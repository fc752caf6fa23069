import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Type } from '@sinclair/typebox'
import t from 'tap'
import { defineTool } from '../index.js'
import { SseClient, post, startApp } from './helper.js'

/** A real authorization server on 127.0.0.1 that issues opaque tokens and answers RFC 7662. */
async function authorizationServer () {
  const tokens = new Map<string, Record<string, unknown>>()
  const as = { url: '', calls: 0, down: false, tokens, close: async () => {} }
  const server = http.createServer((req, res) => {
    if (as.down) { res.writeHead(500); return res.end() }
    if (req.url === '/.well-known/oauth-authorization-server') {
      res.setHeader('content-type', 'application/json')
      return res.end(JSON.stringify({ issuer: as.url, introspection_endpoint: `${as.url}/introspect` }))
    }
    if (req.url === '/introspect' && req.method === 'POST') {
      as.calls++
      if (req.headers.authorization !== `Basic ${Buffer.from('datapulse-rs:rs-secret').toString('base64')}`) { res.writeHead(401); return res.end() }
      let body = ''
      req.on('data', (d) => { body += d })
      req.on('end', () => {
        const token = new URLSearchParams(body).get('token') ?? ''
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify(tokens.get(token) ?? { active: false }))
      })
      return
    }
    res.writeHead(404)
    res.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  as.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  as.close = async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) }
  return as
}

const whoami = defineTool({ name: 'whoami', description: 'who calls', input: Type.Object({}), handler: (_a, ctx) => ({ id: ctx.principal.id, scopes: ctx.principal.scopes }) })

t.test('opaque access tokens: introspected with our credentials, cached within a bound, never accepted silently', async (t) => {
  const as = await authorizationServer()
  t.teardown(as.close)
  const exp = Math.floor(Date.now() / 1000) + 3600
  as.tokens.set('opaque-alice', { active: true, sub: 'alice', scope: 'mcp:read', exp, aud: 'datapulse' })
  as.tokens.set('opaque-elsewhere', { active: true, sub: 'bob', exp, aud: 'another-api' })
  const srv = await startApp({
    tools: [whoami],
    auth: { jwtIssuer: as.url, jwtAudience: 'datapulse', introspectionClientId: 'datapulse-rs', introspectionClientSecret: 'rs-secret', introspectionCacheMs: 400 }
  })
  t.teardown(srv.close)
  const call = (token: string, id: string) => post(srv.url, '/message?session_id=opaque', { type: 'call_tool', request_id: id, data: { name: 'whoami' } }, { authorization: `Bearer ${token}` })

  const sse = await SseClient.open(`${srv.url}/events?session_id=opaque`, { authorization: 'Bearer opaque-alice' })
  t.teardown(() => sse.close())
  t.equal(sse.status, 200, 'an active opaque token opens a stream')
  t.equal((await call('opaque-alice', 'a1')).status, 202)
  t.same((await sse.frameFor('a1')).data, { id: 'jwt:alice', scopes: ['mcp:read'] }, "the principal is the token's subject, with its scopes")
  const before = as.calls
  for (let i = 0; i < 3; i++) await call('opaque-alice', `c${i}`)
  t.equal(as.calls, before, 'answers are cached: no introspection per request')

  const unknown = await call('opaque-nobody', 'u')
  t.equal(unknown.status, 401, 'an inactive token is refused')
  t.match(unknown.headers['www-authenticate'], /error="invalid_token"/)
  t.equal((await call('opaque-elsewhere', 'e')).status, 401, 'a token for another audience is refused')

  as.tokens.delete('opaque-alice')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal((await call('opaque-alice', 'r')).status, 401, 'a revoked token is refused once the cache bound (400 ms) passed')

  as.tokens.set('opaque-carol', { active: true, sub: 'carol', exp })
  as.down = true
  const down = await call('opaque-carol', 'd')
  t.equal(down.status, 503, 'the authorization server cannot answer: 503, not an accept')
  t.equal(down.json().code, 'introspection_unavailable')
  t.ok(down.headers['retry-after'], 'with Retry-After')
})
