import { createHash } from 'node:crypto'
import { Agent, request } from 'undici'
import { AppError } from '../errors.js'

export interface IntrospectionOptions {
  /** The issuer whose metadata names `introspection_endpoint` (unless `url` is given). */
  issuer?: string
  url?: string
  clientId: string
  clientSecret: string
  audience?: string
  timeoutMs: number
  /** How long an answer is trusted: a token revoked at the server is refused within this. */
  cacheMs: number
}

export interface Introspected {
  sub: string
  scopes: string[]
  /** ms since the epoch */
  expiresAt?: number
  /** The DPoP key thumbprint the token is bound to (`cnf.jkt`), if any. */
  jkt?: string
}

const MAX_CACHED = 10_000

/**
 * RFC 7662 token introspection for opaque access tokens: the server asks the authorization
 * server, with its own client credentials, whether a token is active. Answers are cached by a
 * hash of the token (the token itself is never kept) for at most `cacheMs` and never past the
 * token's `exp`. An authorization server that cannot be asked is a 503, never a silent accept.
 */
export function createIntrospection (opts: IntrospectionOptions) {
  const dispatcher = new Agent({ connect: { timeout: opts.timeoutMs }, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs })
  const cache = new Map<string, { value: Introspected | null, until: number }>()
  let endpoint: Promise<string> | undefined
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(opts.clientId)}:${encodeURIComponent(opts.clientSecret)}`).toString('base64')}`

  const unavailable = (why: string) => new AppError(503, 'introspection_unavailable', `the authorization server cannot check this token now (${why}); retry shortly`, { 'retry-after': '5' })

  async function discover (): Promise<string> {
    if (opts.url) return opts.url
    const base = opts.issuer!.endsWith('/') ? opts.issuer! : `${opts.issuer!}/`
    for (const path of ['.well-known/oauth-authorization-server', '.well-known/openid-configuration']) {
      const res = await request(new URL(path, base), { dispatcher, signal: AbortSignal.timeout(opts.timeoutMs) })
      if (res.statusCode !== 200) { await res.body.dump(); continue }
      const doc = await res.body.json() as { introspection_endpoint?: unknown }
      if (typeof doc.introspection_endpoint === 'string') return doc.introspection_endpoint
    }
    throw new Error('the issuer metadata names no introspection_endpoint')
  }

  async function ask (token: string): Promise<Introspected | null> {
    let res
    try {
      endpoint ??= discover().catch((err: unknown) => { endpoint = undefined; throw err })
      res = await request(await endpoint, {
        method: 'POST',
        dispatcher,
        signal: AbortSignal.timeout(opts.timeoutMs),
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString()
      })
    } catch (err) {
      throw unavailable((err as Error).message)
    }
    if (res.statusCode !== 200) {
      await res.body.dump()
      throw unavailable(`introspection answered ${res.statusCode}`)
    }
    const body = await res.body.json() as Record<string, unknown>
    if (body.active !== true || typeof body.sub !== 'string' || body.sub === '' || body.sub.length > 256) return null
    const exp = typeof body.exp === 'number' ? body.exp * 1000 : undefined
    if (exp !== undefined && exp <= Date.now()) return null
    if (opts.audience !== undefined) {
      const aud = Array.isArray(body.aud) ? body.aud : [body.aud]
      if (!aud.includes(opts.audience)) return null
    }
    const scopes = typeof body.scope === 'string' ? body.scope.split(' ').filter(Boolean) : []
    const found: Introspected = { sub: body.sub, scopes }
    if (exp !== undefined) found.expiresAt = exp
    const cnf = body.cnf as { jkt?: unknown } | undefined
    if (typeof cnf?.jkt === 'string') found.jkt = cnf.jkt
    return found
  }

  return {
    /** The token's subject and scopes, or null when it is not active (or not for this audience). */
    async check (token: string): Promise<Introspected | null> {
      const key = createHash('sha256').update(token).digest('base64url')
      const now = Date.now()
      const hit = cache.get(key)
      if (hit && hit.until > now) return hit.value
      const value = await ask(token)
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!)
      cache.set(key, { value, until: Math.min(now + opts.cacheMs, value?.expiresAt ?? Infinity) })
      return value
    },
    close: () => dispatcher.close()
  }
}
