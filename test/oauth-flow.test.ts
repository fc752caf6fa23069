import { createHash, randomUUID } from 'node:crypto'
import t from 'tap'
import Fastify from 'fastify'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { Type } from '@sinclair/typebox'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import dataPulse, { type DataPulseOptions } from '../app.js'
import { defineTool } from '../index.js'
import { freePort, request } from './helper.js'
import { followAuthorization, introspectionClient, signingKey, startAuthorizationServer, tokenFor } from './oauth-server.js'

// MCP authorization end to end against a real authorization server (oidc-provider): discovery,
// registration, PKCE, audience-bound JWTs, step-up, refresh, key rotation, opaque tokens with
// revocation, and DPoP-bound tokens.
const SCOPE = 'mcp:read mcp:admin'
const readNote = defineTool({ name: 'read_note', description: 'Reads', input: Type.Object({}), scopes: ['mcp:read'], handler: () => 'note' })
const wipeNotes = defineTool({ name: 'wipe_notes', description: 'Needs the admin scope', input: Type.Object({}), scopes: ['mcp:admin'], handler: () => 'wiped' })
const tools = [readNote, wipeNotes]

/** The app on a port chosen first, since the authorization server names it as the resource. */
async function startAt (port: number, opts: DataPulseOptions, withTools = tools) {
  const app = Fastify({ logger: false, forceCloseConnections: true })
  await app.register(dataPulse, { env: false, builtinTools: false, tools: withTools, ...opts })
  await app.listen({ port, host: '127.0.0.1' })
  return app
}

const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }
const mcpHeaders = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' }

/** An SDK OAuth client provider whose "browser" follows the authorization URL at once. */
function browserlessProvider (redirectUrl: string, scope: string, refresh = true, registered?: OAuthClientInformationMixed) {
  let info: OAuthClientInformationMixed | undefined = registered
  let tokens: OAuthTokens | undefined
  let verifier = ''
  const state = { authorizations: 0, lastUrl: '' }
  const provider: OAuthClientProvider = {
    get redirectUrl () { return redirectUrl },
    get clientMetadata () {
      return { client_name: 'sdk-test', redirect_uris: [redirectUrl], grant_types: refresh ? ['authorization_code', 'refresh_token'] : ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none', scope }
    },
    clientInformation: () => info,
    saveClientInformation: (i) => { info = i },
    tokens: () => tokens,
    saveTokens: (next) => { tokens = next },
    redirectToAuthorization: (url) => { state.authorizations++; state.lastUrl = url.href },
    saveCodeVerifier: (v) => { verifier = v },
    codeVerifier: () => verifier
  }
  return { provider, state, tokens: () => tokens }
}

t.test('the official SDK client authorizes at a real authorization server, steps up, refreshes', async (t) => {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const as = await startAuthorizationServer({ resource: `${base}/mcp`, scope: SCOPE, accessTokenTtl: 2 })
  t.teardown(as.close)
  // The admin tool comes later (app.dataPulse.tools.add), so the first authorization asks for less.
  const app = await startAt(port, { auth: { jwtIssuer: as.issuer, jwtAudience: `${base}/mcp`, clockToleranceSeconds: 0 }, http: { publicUrl: base } }, [readNote])
  t.teardown(() => app.close())

  const meta = (await request('GET', `${base}/.well-known/oauth-protected-resource/mcp`)).json()
  t.same(meta.scopes_supported, ['mcp:read'], 'the resource metadata lists the scopes tools need (SEP-835)')
  t.same(meta.authorization_servers, [as.issuer])

  const redirect = 'http://127.0.0.1:7777/callback'
  const { provider, state, tokens } = browserlessProvider(redirect, 'mcp:read')
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider })
  const client = new Client({ name: 'oauth', version: '1.0.0' })
  await t.rejects(client.connect(transport), { message: /Unauthorized/ }, 'the first connect needs the user')
  t.equal(state.authorizations, 1, 'discovery (401 → RFC 9728 → AS metadata) and registration led to the authorization URL')
  t.match(state.lastUrl, /code_challenge_method=S256/)
  t.match(decodeURIComponent(state.lastUrl), new RegExp(`resource=${base}/mcp`), 'with the MCP endpoint as the resource')
  await transport.finishAuth(await followAuthorization(state.lastUrl, redirect))
  const claims = JSON.parse(Buffer.from(tokens()!.access_token.split('.')[1], 'base64url').toString())
  t.equal(claims.aud, `${base}/mcp`, 'the access token is for this server only')

  const second = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider })
  const authed = new Client({ name: 'oauth', version: '1.0.0' })
  await authed.connect(second)
  t.teardown(() => authed.close())
  t.equal((await authed.callTool({ name: 'read_note', arguments: {} }) as any).content[0].text, 'note', 'a call with the token')

  // Expiry: the 2-second token lapses; the SDK refreshes it without the user.
  const before = tokens()!.access_token
  await new Promise((resolve) => setTimeout(resolve, 2500))
  const fresh = new Client({ name: 'oauth', version: '1.0.0' })
  await fresh.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }))
  t.teardown(() => fresh.close())
  t.equal((await fresh.callTool({ name: 'read_note', arguments: {} }) as any).content[0].text, 'note', 'refreshed after expiry')
  t.not(tokens()!.access_token, before, 'with a new access token')
  t.equal(state.authorizations, 1, 'and without asking the user')

  // Step-up: the admin tool answers 403 insufficient_scope naming every scope needed, with
  // resource_metadata; the SDK asks the user for them. (A client holding a refresh token would
  // refresh instead, and a refresh cannot widen a grant: this one has none. It is registered
  // beforehand without a scope: registered through the SDK, a client is pinned to the scope it
  // registered with, and this authorization server refuses it more.)
  const asMeta = await (await fetch(`${as.issuer}/.well-known/openid-configuration`)).json() as { registration_endpoint: string }
  const registered = await (await fetch(asMeta.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [redirect], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' })
  })).json() as OAuthClientInformationMixed
  const once = browserlessProvider(redirect, 'mcp:read', false, registered)
  const stepping = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: once.provider })
  const user = new Client({ name: 'oauth', version: '1.0.0' })
  await t.rejects(user.connect(stepping), { message: /Unauthorized/ })
  await stepping.finishAuth(await followAuthorization(once.state.lastUrl, redirect))
  const connected = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: once.provider })
  await user.connect(connected)
  t.teardown(() => user.close())
  app.dataPulse.tools.add(wipeNotes)
  await t.rejects(user.callTool({ name: 'wipe_notes', arguments: {} }), { message: /Unauthorized/ }, 'the wider scope needs the user again')
  t.equal(once.state.authorizations, 2)
  t.match(decodeURIComponent(once.state.lastUrl), /scope=mcp:read[+ ]mcp:admin&/, 'asking for the scopes the challenge named: those held and the one missing')
  await connected.finishAuth(await followAuthorization(once.state.lastUrl, redirect))
  t.equal((await user.callTool({ name: 'wipe_notes', arguments: {} }) as any).content[0].text, 'wiped', 're-authorized with the wider scope, the call succeeds')
  t.equal((await user.callTool({ name: 'read_note', arguments: {} }) as any).content[0].text, 'note', 'and the new token kept the scope it had')

  // Audience: a token for another resource is refused.
  const foreign = await tokenFor(as.issuer, { resource: `${base}/mcp`, scope: 'mcp:read' })
  const tampered = await request('POST', `${base}/mcp`, { headers: { ...mcpHeaders, authorization: `Bearer ${foreign.access_token.slice(0, -4)}AAAA` }, body: initialize })
  t.equal(tampered.status, 401, 'a token whose signature does not verify is refused')
})

t.test('key rotation at the authorization server while clients hold tokens', async (t) => {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const first = await signingKey('key-1')
  const as = await startAuthorizationServer({ resource: `${base}/mcp`, scope: SCOPE, keys: [first] })
  t.teardown(as.close)
  // Verified tokens stay cached for the key set's age (here 1 s) plus the clock tolerance (here 0).
  const app = await startAt(port, { auth: { jwtIssuer: as.issuer, jwtAudience: `${base}/mcp`, jwksCooldownMs: 0, jwksMaxAgeMs: 1000, clockToleranceSeconds: 0 }, http: { publicUrl: base } })
  t.teardown(() => app.close())
  const call = async (token: string) => (await request('POST', `${base}/mcp`, { headers: { ...mcpHeaders, authorization: `Bearer ${token}` }, body: initialize })).status
  const old = (await tokenFor(as.issuer, { resource: `${base}/mcp`, scope: 'mcp:read' })).access_token
  t.equal(await call(old), 200, 'a token signed with key-1')
  const second = await signingKey('key-2')
  as.rotate([second, first])
  const rotated = (await tokenFor(as.issuer, { resource: `${base}/mcp`, scope: 'mcp:read' })).access_token
  t.equal(JSON.parse(Buffer.from(rotated.split('.')[0], 'base64url').toString()).kid, 'key-2')
  t.equal(await call(rotated), 200, 'a token with the new kid: the key set is fetched again')
  t.equal(await call(old), 200, 'the token clients already hold keeps working while key-1 is published')
  as.rotate([second])
  await new Promise((resolve) => setTimeout(resolve, 1300))
  t.equal(await call(rotated), 200)
  t.equal(await call(old), 401, 'once the issuer dropped key-1 (and the key set was refreshed), its tokens are refused')
})

t.test('an opaque token from the real authorization server: introspected, then revoked', async (t) => {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const as = await startAuthorizationServer({ resource: 'http://127.0.0.1:1/unused', opaqueResource: `${base}/mcp`, scope: SCOPE })
  t.teardown(as.close)
  const own = await introspectionClient(as.issuer)
  const app = await startAt(port, {
    auth: { jwtIssuer: as.issuer, jwtAudience: `${base}/mcp`, introspectionClientId: own.id, introspectionClientSecret: own.secret, introspectionCacheMs: 300 },
    http: { publicUrl: base }
  })
  t.teardown(() => app.close())
  const got = await tokenFor(as.issuer, { resource: `${base}/mcp`, scope: 'mcp:read' })
  t.equal(got.access_token.split('.').length, 1, 'the authorization server issued an opaque token')
  const call = async () => (await request('POST', `${base}/mcp`, { headers: { ...mcpHeaders, authorization: `Bearer ${got.access_token}` }, body: initialize })).status
  t.equal(await call(), 200, 'accepted through introspection')
  const revoked = await fetch(got.meta.revocation_endpoint, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: got.access_token, client_id: got.client_id })
  })
  t.equal(revoked.status, 200, 'revoked at the authorization server')
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal(await call(), 401, 'refused once the cached answer (300 ms) is older than the revocation')
})

t.test('DPoP-bound tokens (RFC 9449): good with a proof, refused without, replayed, or for another URL', async (t) => {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const as = await startAuthorizationServer({ resource: `${base}/mcp`, scope: SCOPE })
  t.teardown(as.close)
  const app = await startAt(port, { auth: { jwtIssuer: as.issuer, jwtAudience: `${base}/mcp` }, http: { publicUrl: base } })
  t.teardown(() => app.close())
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  const jwk = await exportJWK(publicKey)
  const proof = (htm: string, htu: string, extra: Record<string, unknown> = {}) =>
    new SignJWT({ htm, htu, jti: randomUUID(), ...extra }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).setIssuedAt().sign(privateKey)
  const got = await tokenFor(as.issuer, { resource: `${base}/mcp`, scope: 'mcp:read', dpopProof: (url) => proof('POST', url) })
  t.equal(got.token_type, 'DPoP', 'the authorization server bound the token to our key')
  const token = got.access_token
  const ath = createHash('sha256').update(token).digest('base64url')
  const call = async (headers: Record<string, string>) => request('POST', `${base}/mcp`, { headers: { ...mcpHeaders, ...headers }, body: initialize })

  const good = await proof('POST', `${base}/mcp`, { ath })
  t.equal((await call({ authorization: `DPoP ${token}`, dpop: good })).status, 200, 'the token with a proof for this request')
  const replay = await call({ authorization: `DPoP ${token}`, dpop: good })
  t.equal(replay.status, 401, 'the same proof again is a replay')
  t.match(replay.headers['www-authenticate'], /^DPoP error="invalid_dpop_proof".*used before/)
  t.equal((await call({ authorization: `DPoP ${token}` })).status, 401, 'without a proof')
  const asBearer = await call({ authorization: `Bearer ${token}` })
  t.equal(asBearer.status, 401, 'as a bearer token')
  t.match(asBearer.headers['www-authenticate'], /bound to a DPoP key/)
  t.equal((await call({ authorization: `DPoP ${token}`, dpop: await proof('POST', `${base}/sse`, { ath }) })).status, 401, 'a proof for another URL')
  t.equal((await call({ authorization: `DPoP ${token}`, dpop: await proof('GET', `${base}/mcp`, { ath }) })).status, 401, 'a proof for another method')
  t.equal((await call({ authorization: `DPoP ${token}`, dpop: await proof('POST', `${base}/mcp`, { ath: 'x' }) })).status, 401, 'a proof for another token')
  const other = await generateKeyPair('ES256')
  const stranger = await new SignJWT({ htm: 'POST', htu: `${base}/mcp`, jti: randomUUID(), ath })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(other.publicKey) }).setIssuedAt().sign(other.privateKey)
  t.equal((await call({ authorization: `DPoP ${token}`, dpop: stranger })).status, 401, "a proof by a key that is not the token's")
  const stale = await new SignJWT({ htm: 'POST', htu: `${base}/mcp`, jti: randomUUID(), ath })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).setIssuedAt(Math.floor(Date.now() / 1000) - 600).sign(privateKey)
  t.equal((await call({ authorization: `DPoP ${token}`, dpop: stale })).status, 401, 'a proof older than DPOP_PROOF_MAX_AGE_SECONDS')
  const plain = await tokenFor(as.issuer, { resource: `${base}/mcp`, scope: 'mcp:read' })
  t.equal((await call({ authorization: `DPoP ${plain.access_token}`, dpop: await proof('POST', `${base}/mcp`, { ath: createHash('sha256').update(plain.access_token).digest('base64url') }) })).status,
    401, 'the DPoP scheme with an unbound token')
  t.equal((await call({ authorization: `Bearer ${plain.access_token}` })).status, 200, 'while that token works as a bearer token')
})
