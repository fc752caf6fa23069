import t from 'tap'
import { AUTH, post, request, startApp } from './helper.js'
import { forgeToken, makeKeyPair, signToken, startIssuer } from './jwt-keys.js'

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const now = () => Math.floor(Date.now() / 1000)

async function status (url: string, token: string, session = 'jwt') {
  const res = await request('POST', `${url}/message?session_id=${session}`, { headers: bearer(token), body: { type: 'list_tools', request_id: 'r' } })
  return res
}

t.test('static RS256 key', async (t) => {
  const pair = makeKeyPair()
  const other = makeKeyPair()
  const srv = await startApp({ auth: { jwtKey: pair.publicPem, jwtAudience: 'datapulse' } })
  t.teardown(srv.close)
  const good = signToken(pair, { aud: 'datapulse', scope: 'tools:read tools:call' })
  t.equal((await status(srv.url, good)).status, 202, 'a valid token is accepted')
  t.equal((await status(srv.url, signToken(pair, { aud: 'datapulse' }))).status, 202)

  const payload = { sub: 'alice', aud: 'datapulse', exp: now() + 3600 }
  const attacks: Array<[string, string, RegExp]> = [
    ['alg none', forgeToken({ alg: 'none', typ: 'JWT' }, payload, null), /./],
    ['HS256 signed with the public key', forgeToken({ alg: 'HS256', typ: 'JWT' }, payload, pair.publicPem), /algorithm|signature/],
    ['RS256 by another key', signToken(other, { aud: 'datapulse' }), /signature/],
    ['tampered payload', (() => { const [h, , s] = good.split('.'); return `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'mallory' })).toString('base64url')}.${s}` })(), /signature/],
    ['expired', signToken(pair, { aud: 'datapulse', exp: now() - 60 }), /expired/],
    ['nbf in the future', signToken(pair, { aud: 'datapulse', nbf: now() + 600 }), /not valid yet|not yet|nbf|inactive/i],
    ['missing exp', signToken(pair, { aud: 'datapulse', exp: undefined }), /exp/],
    ['wrong aud', signToken(pair, { aud: 'someone-else' }), /aud|audience/i],
    ['missing aud', signToken(pair), /aud|claim/i],
    ['garbage', 'a.b.c', /./]
  ]
  for (const [what, token, description] of attacks) {
    const res = await status(srv.url, token)
    t.equal(res.status, 401, `${what} → 401`)
    t.match(res.headers['www-authenticate'], /^Bearer .*error="invalid_token"/, `${what}: WWW-Authenticate`)
    t.match(res.headers['www-authenticate'], description, `${what}: says why`)
  }
  const skew = signToken(pair, { aud: 'datapulse', nbf: now() + 2 })
  t.equal((await status(srv.url, skew)).status, 202, 'nbf within the clock tolerance is accepted')
  t.equal((await status(srv.url, 'secret_token', 'local')).status, 401, 'configuring JWT turns the local token off by default')
})

t.test('local token can be turned off; big headers are refused unread', async (t) => {
  const pair = makeKeyPair()
  const srv = await startApp({ auth: { jwtKey: pair.publicPem, allowLocalBearer: false } })
  t.teardown(srv.close)
  t.equal((await status(srv.url, 'secret_token')).status, 401)
  t.equal((await status(srv.url, signToken(pair))).status, 202)
  const huge = await status(srv.url, signToken(pair, { pad: 'x'.repeat(9000) }))
  t.equal(huge.status, 401)
  t.match(huge.headers['www-authenticate'], /too large/)
})

t.test('principals from different subjects do not share sessions', async (t) => {
  const pair = makeKeyPair()
  const srv = await startApp({ auth: { jwtKey: pair.publicPem } })
  t.teardown(srv.close)
  const alice = signToken(pair, { sub: 'alice' })
  const bob = signToken(pair, { sub: 'bob' })
  t.equal((await status(srv.url, alice)).status, 202)
  const stolen = await status(srv.url, bob)
  t.equal(stolen.status, 403)
  t.equal(stolen.json().code, 'session_forbidden')
})

t.test('JWKS discovery', async (t) => {
  const k1 = makeKeyPair('one')
  const issuer = await startIssuer([k1])
  t.teardown(issuer.close)
  const srv = await startApp({ auth: { jwtIssuer: issuer.url, jwksCooldownMs: 400, jwksMaxAgeMs: 2000, jwksTimeoutMs: 500, allowLocalBearer: false } })
  t.teardown(srv.close)
  const ok = await status(srv.url, signToken(k1, { iss: issuer.url }))
  t.equal(ok.status, 202, 'a token signed by a published key is accepted')
  t.equal(issuer.jwksFetches, 1)

  const noToken = await request('GET', `${srv.url}/events?session_id=x`)
  t.equal(noToken.status, 401)
  t.match(noToken.headers['www-authenticate'], /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource"/)
  const meta = await request('GET', `${srv.url}/.well-known/oauth-protected-resource`)
  t.equal(meta.status, 200)
  t.same(meta.json().authorization_servers, [issuer.url])
  t.same(meta.json().bearer_methods_supported, ['header'])

  t.equal((await status(srv.url, signToken(k1, { iss: 'http://evil.example' }))).status, 401, 'wrong iss')
  t.equal((await status(srv.url, signToken(k1))).status, 401, 'missing iss')

  // Many unknown kids at once cost at most one refetch per cooldown window.
  const before = issuer.jwksFetches
  const rogue = makeKeyPair('rogue')
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) =>
    status(srv.url, signToken(rogue, { iss: issuer.url }, { kid: `unknown-${i}` }))))
  t.same([...new Set(results.map((r) => r.status))], [401], 'unknown kids are refused')
  t.ok(issuer.jwksFetches - before <= 1, `unknown kids caused ${issuer.jwksFetches - before} refetch(es)`)
  t.match(results[0].headers['www-authenticate'], /signing key is not one the issuer publishes/)
  t.notMatch(results[0].headers['www-authenticate'], /unknown-0/, 'nothing from the token is copied into the header')

  // Rotation: a newly published key is picked up once the cooldown has passed.
  const k2 = makeKeyPair('two')
  issuer.keys = [k1, k2]
  await new Promise((resolve) => setTimeout(resolve, 450))
  t.equal((await status(srv.url, signToken(k2, { iss: issuer.url }))).status, 202, 'rotated key accepted after the cooldown')

  // A key the issuer removes stops being trusted once the key set is refetched (max age).
  issuer.keys = [k2]
  await new Promise((resolve) => setTimeout(resolve, 2100))
  t.equal((await status(srv.url, signToken(k1, { iss: issuer.url, jti: 'after-removal' }))).status, 401, 'a removed key is no longer trusted')
  t.equal((await status(srv.url, signToken(k2, { iss: issuer.url, jti: 'still-here' }))).status, 202)

  // Issuer down: keys already fetched keep working; an unknown kid cannot be judged, so 503.
  issuer.mode = 'down'
  await new Promise((resolve) => setTimeout(resolve, 2100))
  t.equal((await status(srv.url, signToken(k2, { iss: issuer.url, jti: 'fresh' }))).status, 202, 'cached key works while the issuer is down')
  const unknown = await status(srv.url, signToken(makeKeyPair('new'), { iss: issuer.url }, { kid: 'brand-new' }))
  t.equal(unknown.status, 503, 'an unknown kid during an outage is 503, not 401')
  t.ok(unknown.headers['retry-after'], 'with Retry-After')
})

t.test('token-derived text never reaches WWW-Authenticate; sub must be a non-empty string', async (t) => {
  const k1 = makeKeyPair('hdr')
  const issuer = await startIssuer([k1])
  t.teardown(issuer.close)
  const srv = await startApp({ auth: { jwtIssuer: issuer.url } })
  t.teardown(srv.close)
  const crlf = await status(srv.url, signToken(k1, { iss: issuer.url }, { kid: 'bad\r\nX-Injected: 1 é' }))
  t.equal(crlf.status, 401, 'a kid with CR/LF and non-Latin-1 is a clean 401')
  t.ok(crlf.headers['www-authenticate'], 'with its WWW-Authenticate header')
  t.equal(crlf.headers['x-injected'], undefined)
  for (const sub of [{ a: 1 }, '', 42]) {
    const res = await status(srv.url, signToken(k1, { iss: issuer.url, sub }))
    t.equal(res.status, 401, `sub ${JSON.stringify(sub)} is refused`)
  }
})

t.test('JWKS that hangs answers within the timeout; fallback path without jwks_uri', async (t) => {
  const k1 = makeKeyPair('hang')
  const issuer = await startIssuer([k1])
  t.teardown(issuer.close)
  issuer.mode = 'hang'
  const srv = await startApp({ auth: { jwtIssuer: issuer.url, jwksTimeoutMs: 300 } })
  t.teardown(srv.close)
  const started = Date.now()
  const res = await status(srv.url, signToken(k1, { iss: issuer.url }))
  t.ok(Date.now() - started < 5000, `answered in ${Date.now() - started} ms`)
  t.equal(res.status, 503)
  t.match(res.json().message, /signing keys are unavailable/)
  t.ok(res.headers['retry-after'])

  const k2 = makeKeyPair('fallback')
  const plain = await startIssuer([k2])
  t.teardown(plain.close)
  plain.discoveryWithoutJwksUri = true
  const srv2 = await startApp({ auth: { jwtIssuer: plain.url } })
  t.teardown(srv2.close)
  t.equal((await status(srv2.url, signToken(k2, { iss: plain.url }))).status, 202, 'keys from /.well-known/jwks.json')
  t.equal(plain.jwksFetches, 1)
})

t.test('cached verifications never outlive exp', async (t) => {
  const pair = makeKeyPair()
  const srv = await startApp({ auth: { jwtKey: pair.publicPem, clockToleranceSeconds: 0 } })
  t.teardown(srv.close)
  const token = signToken(pair, { exp: now() + 2 })
  t.equal((await status(srv.url, token)).status, 202)
  t.equal((await status(srv.url, token)).status, 202, 'served from the cache')
  await new Promise((resolve) => setTimeout(resolve, 2600))
  t.equal((await status(srv.url, token)).status, 401, 'expired even though it was cached')
})

t.test('the local token compares in constant time over a digest', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  t.equal((await status(srv.url, 'secret_toke')).status, 401, 'a prefix is not enough')
  t.equal((await status(srv.url, 'secret_token_')).status, 401, 'an extension is not enough')
  t.equal((await request('GET', `${srv.url}/health`, { headers: AUTH })).status, 200)
})

t.test('ES256 and EdDSA keys, static and from JWKS; a token may not pick an algorithm its key was not made for', async (t) => {
  const ec = makeKeyPair('ec1', 'ec')
  const ed = makeKeyPair('ed1', 'ed25519')
  const call = (url: string, token: string) => post(url, '/message?session_id=alg', { type: 'list_tools', request_id: 'a' }, { authorization: `Bearer ${token}` })
  const staticEc = await startApp({ auth: { jwtKey: ec.publicPem } })
  t.teardown(staticEc.close)
  t.equal((await call(staticEc.url, signToken(ec))).status, 202, 'an ES256 token against a static EC key')
  const rsa = makeKeyPair()
  t.equal((await call(staticEc.url, signToken(rsa))).status, 401, 'an RS256 token is refused by an EC key')
  t.equal((await call(staticEc.url, forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub: 'eve', exp: Math.floor(Date.now() / 1000) + 60 }, ec.publicPem))).status, 401,
    'HS256 signed with the public key is refused')

  const issuer = await startIssuer([ec, ed])
  t.teardown(issuer.close)
  const viaJwks = await startApp({ auth: { jwtIssuer: issuer.url } })
  t.teardown(viaJwks.close)
  t.equal((await call(viaJwks.url, signToken(ec, { iss: issuer.url }))).status, 202, 'ES256 through JWKS')
  t.equal((await call(viaJwks.url, signToken(ed, { iss: issuer.url }))).status, 202, 'EdDSA through JWKS')
})

t.test('step-up: a tool the token lacks the scope for answers 403 insufficient_scope with its scopes and the resource metadata', async (t) => {
  const { defineTool } = await import('../index.js')
  const { Type } = await import('@sinclair/typebox')
  const pair = makeKeyPair()
  const issuer = await startIssuer([pair])
  t.teardown(issuer.close)
  const admin = defineTool({ name: 'admin_action', description: 'needs admin', input: Type.Object({}), scopes: ['mcp:admin', 'mcp:write'], handler: () => 'done' })
  const srv = await startApp({ tools: [admin], auth: { jwtIssuer: issuer.url } })
  t.teardown(srv.close)
  const token = signToken(pair, { iss: issuer.url, scope: 'mcp:read' })
  const res = await request('POST', `${srv.url}/mcp`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'admin_action' },
    body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'admin_action', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }
  })
  t.equal(res.status, 403)
  const challenge = String(res.headers['www-authenticate'])
  t.match(challenge, /error="insufficient_scope"/)
  t.match(challenge, /scope="mcp:read mcp:admin mcp:write"/, 'every scope the call needs, in one challenge, with those the token holds')
  const metadata = /resource_metadata="([^"]+)"/.exec(challenge)?.[1]
  t.equal(metadata, `${srv.url}/.well-known/oauth-protected-resource/mcp`, 'pointing at the resource metadata')
  const doc = (await request('GET', metadata!)).json()
  t.equal(doc.resource, `${srv.url}/mcp`, 'which names this resource')
  t.same(doc.authorization_servers, [issuer.url], 'and where to get a wider token')
  const wider = signToken(pair, { iss: issuer.url, scope: 'mcp:admin mcp:write' })
  const retry = await request('POST', `${srv.url}/mcp`, {
    headers: { authorization: `Bearer ${wider}`, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'admin_action' },
    body: { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'admin_action', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }
  })
  t.equal(retry.json().result?.content?.[0]?.text, 'done', 'the wider token is served')
})

t.test('step-up for resources (static and templated), prompts and the envelope: one challenge with every scope needed', async (t) => {
  const { defineTool, defineResource, defineResourceTemplate, definePrompt } = await import('../index.js')
  const { Type } = await import('@sinclair/typebox')
  const pair = makeKeyPair()
  const issuer = await startIssuer([pair])
  t.teardown(issuer.close)
  const srv = await startApp({
    tools: [defineTool({ name: 'admin_action', description: 'needs admin', input: Type.Object({}), scopes: ['mcp:admin'], handler: () => 'done' })],
    resources: [defineResource({ uri: 'secret://report', name: 'report', scopes: ['reports:read'], read: () => 'the report' })],
    resourceTemplates: [defineResourceTemplate({ uriTemplate: 'secret://ledger/{year}', name: 'ledger', scopes: ['ledger:read', 'reports:read'], read: (_uri, v) => `ledger ${v.year}` })],
    prompts: [definePrompt({ name: 'audit', scopes: ['audit:run'], get: () => [{ role: 'user', content: { type: 'text', text: 'audit it' } }] })],
    auth: { jwtIssuer: issuer.url }
  })
  t.teardown(srv.close)
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} }
  const rpc = (token: string, method: string, params: Record<string, unknown>, name: string) => request('POST', `${srv.url}/mcp`, {
    headers: { ...bearer(token), accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, 'mcp-name': name },
    body: { jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }
  })
  const narrow = signToken(pair, { iss: issuer.url, scope: 'mcp:read' })
  const cases: Array<[string, string, Record<string, unknown>, string, string]> = [
    ['a static resource', 'resources/read', { uri: 'secret://report' }, 'secret://report', 'mcp:read reports:read'],
    ['a templated resource', 'resources/read', { uri: 'secret://ledger/2026' }, 'secret://ledger/2026', 'mcp:read ledger:read reports:read'],
    ['a prompt', 'prompts/get', { name: 'audit' }, 'audit', 'mcp:read audit:run']
  ]
  for (const [what, method, params, name, scope] of cases) {
    const res = await rpc(narrow, method, params, name)
    t.equal(res.status, 403, `${what}: 403 without its scopes`)
    const challenge = String(res.headers['www-authenticate'])
    t.match(challenge, /^Bearer error="insufficient_scope"/, `${what}: insufficient_scope`)
    t.ok(challenge.includes(`scope="${scope}"`), `${what}: every scope needed in one challenge (${challenge})`)
    t.ok(challenge.includes(`resource_metadata="${srv.url}/.well-known/oauth-protected-resource/mcp"`), `${what}: with the resource metadata`)
  }
  const doc = (await request('GET', `${srv.url}/.well-known/oauth-protected-resource/mcp`)).json()
  t.same([...doc.scopes_supported].sort(), ['audit:run', 'ledger:read', 'mcp:admin', 'reports:read'], 'the metadata lists every scope asked for')

  const wide = signToken(pair, { iss: issuer.url, scope: 'reports:read ledger:read audit:run' })
  t.equal((await rpc(wide, 'resources/read', { uri: 'secret://report' }, 'secret://report')).json().result?.contents?.[0]?.text, 'the report', 'the wider token reads the resource')
  t.equal((await rpc(wide, 'resources/read', { uri: 'secret://ledger/2026' }, 'secret://ledger/2026')).json().result?.contents?.[0]?.text, 'ledger 2026', 'and the templated one')
  t.equal((await rpc(wide, 'prompts/get', { name: 'audit' }, 'audit')).json().result?.messages?.[0]?.content?.text, 'audit it', 'and gets the prompt')
  t.equal((await rpc(narrow, 'resources/read', { uri: 'secret://nothing' }, 'secret://nothing')).status, 200, 'an unknown resource is its own error, not a scope challenge')

  // The envelope is no way around a tool's scopes.
  const refused = await request('POST', `${srv.url}/message?session_id=stepup`, { headers: bearer(narrow), body: { type: 'call_tool', request_id: 'r', data: { name: 'admin_action' } } })
  t.equal(refused.status, 403, 'an envelope call_tool without the scope: 403')
  t.equal(refused.json().code, 'insufficient_scope')
  t.ok(String(refused.headers['www-authenticate']).includes('scope="mcp:read mcp:admin"'), 'with the same challenge')
  const admin = signToken(pair, { iss: issuer.url, scope: 'mcp:admin' })
  t.equal((await request('POST', `${srv.url}/message?session_id=stepup2`, { headers: bearer(admin), body: { type: 'call_tool', request_id: 'r', data: { name: 'admin_action' } } })).status, 202, 'and accepted with it')
})

t.test('scopes that are not OAuth scope tokens are refused at registration', async (t) => {
  const { defineTool, defineResource, definePrompt } = await import('../index.js')
  const { Type } = await import('@sinclair/typebox')
  await t.rejects(startApp({ tools: [defineTool({ name: 'bad', description: 'd', input: Type.Object({}), scopes: ['a b'], handler: () => '' })] }), /scopes must be OAuth scope tokens/)
  await t.rejects(startApp({ resources: [defineResource({ uri: 'x://y', name: 'y', scopes: ['say "hi"'], read: () => '' })] }), /scopes must be OAuth scope tokens/)
  await t.rejects(startApp({ prompts: [definePrompt({ name: 'p', scopes: [''], get: () => [] })] }), /scopes must be OAuth scope tokens/)
})
