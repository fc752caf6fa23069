import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair } from 'jose'
import Provider, { errors, type Configuration } from 'oidc-provider'

// A real OpenID-certified authorization server (oidc-provider) on 127.0.0.1, for tests: dynamic
// client registration, authorization code + PKCE S256, refresh tokens, resource indicators (JWT
// access tokens whose aud is the resource; opaque ones for a second resource), introspection,
// revocation and DPoP. Login and consent are approved in-process, so no browser is needed.

export const ACCOUNT = 'test-user'

/** Grants, clients, tokens: shared by every Provider built here, so a reconfigured one keeps them. */
const rows = new Map<string, { payload: Record<string, unknown>, exp: number }>()
const index = new Map<string, string[]>()
class Adapter {
  constructor (private readonly model: string) {}
  private key (id: string) { return `${this.model}:${id}` }
  async upsert (id: string, payload: Record<string, unknown>, expiresIn?: number) {
    rows.set(this.key(id), { payload, exp: expiresIn ? Date.now() + expiresIn * 1000 : Infinity })
    for (const field of ['grantId', 'uid', 'userCode'] as const) {
      const value = payload[field]
      if (typeof value === 'string') index.set(`${field}:${value}`, [...(index.get(`${field}:${value}`) ?? []), this.key(id)])
    }
  }
  async find (id: string) { const row = rows.get(this.key(id)); return row && row.exp > Date.now() ? row.payload : undefined }
  async findByUid (uid: string) { const key = index.get(`uid:${uid}`)?.at(-1); return key ? rows.get(key)?.payload : undefined }
  async findByUserCode (code: string) { const key = index.get(`userCode:${code}`)?.at(-1); return key ? rows.get(key)?.payload : undefined }
  async consume (id: string) { const p = await this.find(id); if (p) p.consumed = Math.floor(Date.now() / 1000) }
  async destroy (id: string) { rows.delete(this.key(id)) }
  async revokeByGrantId (grantId: string) { for (const key of index.get(`grantId:${grantId}`) ?? []) rows.delete(key) }
}

export async function signingKey (kid: string): Promise<Record<string, unknown>> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  return { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' }
}

export interface AuthorizationServer {
  issuer: string
  /** Signs new tokens with `keys[0]` from now on; the others stay published (key rotation). */
  rotate (keys: Array<Record<string, unknown>>): void
  close (): Promise<void>
}

/**
 * `resource`: the MCP endpoint (JWT access tokens, aud = it); `opaqueResource`: one whose access
 * tokens are opaque (introspected). `scope`: what the resources accept.
 */
export async function startAuthorizationServer (o: { resource: string, opaqueResource?: string, scope: string, keys?: Array<Record<string, unknown>>, accessTokenTtl?: number }): Promise<AuthorizationServer> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  let provider: Provider
  let callback: ReturnType<Provider['callback']>
  const ttl = o.accessTokenTtl ?? 3600
  const build = (keys: Array<Record<string, unknown>>) => {
    const configuration: Configuration = {
      adapter: Adapter as never,
      jwks: { keys: keys as never },
      cookies: { keys: ['test-cookie-secret'] },
      findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
      // The resources' scopes too, so that clients may register with them (RFC 7591 `scope`).
      scopes: ['openid', 'offline_access', ...o.scope.split(' ')],
      pkce: { required: () => true },
      issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      features: {
        devInteractions: { enabled: false },
        registration: { enabled: true },
        introspection: { enabled: true },
        revocation: { enabled: true },
        clientCredentials: { enabled: true },
        dPoP: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: async (_ctx, _client, oneOf) => oneOf ?? o.resource,
          useGrantedResource: async () => true,
          getResourceServerInfo: async (_ctx, indicator) => {
            if (indicator === o.resource) return { scope: o.scope, audience: o.resource, accessTokenTTL: ttl, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }
            if (indicator === o.opaqueResource) return { scope: o.scope, audience: o.opaqueResource, accessTokenTTL: ttl, accessTokenFormat: 'opaque' }
            throw new errors.InvalidTarget()
          }
        }
      }
    }
    provider = new Provider(issuer, configuration)
    callback = provider.callback()
  }
  build(o.keys ?? [await signingKey('key-1')])

  // The user logs in and approves exactly what the client asked for, at once.
  async function interaction (req: http.IncomingMessage, res: http.ServerResponse) {
    const { prompt, params, session, grantId } = await provider.interactionDetails(req, res)
    let result: Record<string, unknown>
    if (prompt.name === 'login') result = { login: { accountId: ACCOUNT } }
    else {
      const grant = grantId ? (await provider.Grant.find(grantId))! : new provider.Grant({ accountId: session!.accountId, clientId: params.client_id as string })
      const details = prompt.details as { missingOIDCScope?: string[], missingResourceScopes?: Record<string, string[]> }
      if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '))
      for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '))
      result = { consent: { grantId: await grant.save() } }
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true })
  }
  server.on('request', (req, res) => {
    if (req.url?.startsWith('/interaction/')) interaction(req, res).catch((err) => { res.statusCode = 500; res.end(String(err)) })
    else callback(req, res)
  })
  return {
    issuer,
    rotate: (keys) => build(keys),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

const form = (o: Record<string, string | undefined>) => new URLSearchParams(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined))

/** What a browser would do with an authorization URL: follow it (cookies kept) to the code. */
export async function followAuthorization (authorizationUrl: string, redirectUri: string): Promise<string> {
  const jar = new Map<string, string>()
  let url = authorizationUrl
  for (let i = 0; i < 10; i++) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } })
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(';')
      const eq = pair.indexOf('=')
      jar.set(pair.slice(0, eq), pair.slice(eq + 1))
    }
    const location = res.headers.get('location')
    if (!location) throw new Error(`authorization stopped at ${url}: ${res.status} ${await res.text()}`)
    url = new URL(location, url).href
    if (url.startsWith(redirectUri)) {
      const code = new URL(url).searchParams.get('code')
      if (!code) throw new Error(`authorization refused: ${new URL(url).search}`)
      return code
    }
  }
  throw new Error('too many redirects')
}

/** A client registered, authorized (code + PKCE) and given tokens, without the SDK: for the raw tests. */
export async function tokenFor (issuer: string, o: { resource: string, scope: string, dpopProof?: (url: string) => Promise<string> }): Promise<Record<string, any>> {
  const meta = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as Record<string, string>
  const redirectUri = 'http://127.0.0.1:7777/callback'
  const client = await (await fetch(meta.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] })
  })).json() as { client_id: string }
  const verifier = randomBytes(32).toString('base64url')
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  const code = await followAuthorization(`${meta.authorization_endpoint}?${form({
    client_id: client.client_id, response_type: 'code', redirect_uri: redirectUri, scope: o.scope, resource: o.resource, code_challenge: challenge, code_challenge_method: 'S256', state: 's'
  })}`, redirectUri)
  const res = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(o.dpopProof ? { dpop: await o.dpopProof(meta.token_endpoint) } : {}) },
    body: form({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: client.client_id, resource: o.resource })
  })
  const tokens = await res.json() as Record<string, any>
  if (!res.ok) throw new Error(`token: ${res.status} ${JSON.stringify(tokens)}`)
  return { ...tokens, client_id: client.client_id, meta }
}

/** A confidential client of the server's own, for introspection. */
export async function introspectionClient (issuer: string): Promise<{ id: string, secret: string }> {
  const meta = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as Record<string, string>
  const client = await (await fetch(meta.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [], response_types: [], grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' })
  })).json() as { client_id: string, client_secret: string }
  return { id: client.client_id, secret: client.client_secret }
}
