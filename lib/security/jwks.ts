import { ASYMMETRIC_ALGORITHMS } from './jwt-algorithms.js'
import { createPublicKey, type JsonWebKey } from 'node:crypto'
import buildGetJwks from 'get-jwks'
import { Agent, request } from 'undici'

export class KeysUnavailableError extends Error {
  override name = 'KeysUnavailableError'
}

export class UnknownKeyError extends Error {
  override name = 'UnknownKeyError'
}

export interface JwksOptions {
  issuer: string
  timeoutMs: number
  /** At most one refetch for unknown `kid`s per window. */
  cooldownMs: number
  /** A key set older than this is fetched again before use, so removed keys stop working. */
  maxAgeMs: number
}

/**
 * The issuer's signing keys, by `kid`. Keys only ever come from the configured issuer's discovery
 * document, never from anything in a token. The whole key set is cached from one fetch, so a
 * second legitimate kid does not cost a request; an unknown kid triggers at most one refetch per
 * cooldown window (get-jwks alone would refetch for every unknown kid, an amplification lever);
 * if the issuer is down, the keys already fetched keep working.
 */
export function createJwks (opts: JwksOptions) {
  // get-jwks ignores its `timeout` option; the dispatcher's timeouts are what bound each fetch.
  const dispatcher = new Agent({
    connect: { timeout: opts.timeoutMs },
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs
  })
  const discovery = buildGetJwks({
    providerDiscovery: true,
    issuersWhitelist: [opts.issuer],
    fetchOptions: { dispatcher } as unknown as RequestInit
  })
  let keys = new Map<string, string>()
  let jwksUri: string | undefined
  let lastFetch = 0
  // Whether the last fetch failed: an unknown kid then means "cannot tell", not "invalid".
  let lastFailed = false
  let fetchedAt = 0
  let inFlight: Promise<void> | null = null
  let fetches = 0

  async function discover (): Promise<string> {
    if (jwksUri) return jwksUri
    try {
      jwksUri = await discovery.getJwksUri(opts.issuer.endsWith('/') ? opts.issuer : `${opts.issuer}/`)
    } catch (err) {
      // Only a discovery document without jwks_uri falls back to the conventional path.
      if ((err as { code?: string }).code !== 'NO_JWKS_URI') throw err
      jwksUri = new URL('.well-known/jwks.json', opts.issuer.endsWith('/') ? opts.issuer : `${opts.issuer}/`).href
    }
    return jwksUri
  }

  async function refresh (): Promise<void> {
    lastFetch = Date.now()
    fetches++
    const uri = await discover()
    const res = await request(uri, { dispatcher, signal: AbortSignal.timeout(opts.timeoutMs) })
    if (res.statusCode !== 200) {
      await res.body.dump()
      throw new Error(`JWKS request answered ${res.statusCode}`)
    }
    const body = await res.body.json() as { keys?: Array<JsonWebKey & { kid?: string, use?: string, alg?: string }> }
    if (!Array.isArray(body.keys)) throw new Error('JWKS document has no keys array')
    const fresh = new Map<string, string>()
    for (const jwk of body.keys) {
      if (typeof jwk.kid !== 'string' || !['RSA', 'EC', 'OKP'].includes(jwk.kty ?? '') || (jwk.use && jwk.use !== 'sig')) continue
      if (jwk.alg && !(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(jwk.alg)) continue
      try {
        fresh.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString())
      } catch { /* a malformed key is skipped, not fatal for the others */ }
    }
    // Exactly what the issuer publishes now: a key it removed stops being trusted.
    keys = fresh
    fetchedAt = Date.now()
  }

  /** The PEM public key for `kid`. */
  async function getKey (kid: unknown): Promise<string> {
    if (typeof kid !== 'string' || kid === '') throw new UnknownKeyError('token has no kid')
    const stale = fetches > 0 && Date.now() - fetchedAt >= opts.maxAgeMs && Date.now() - lastFetch >= opts.cooldownMs
    const cached = keys.get(kid)
    if (cached && !stale) return cached
    if (inFlight) await inFlight.catch(() => {})
    else if (stale || Date.now() - lastFetch >= opts.cooldownMs || fetches === 0) {
      inFlight = refresh().then(() => { lastFailed = false }, (err: unknown) => { lastFailed = true; throw err }).finally(() => { inFlight = null })
      await inFlight.catch(() => {})
    }
    const key = keys.get(kid)
    if (key) return key
    // The issuer could not be asked: the token may well be valid, so the client should retry
    // (503) rather than throw its token away (401).
    if (lastFailed) throw new KeysUnavailableError('signing keys unavailable: the issuer could not be reached')
    throw new UnknownKeyError('unknown signing key')
  }

  return {
    getKey,
    /** How many times the key set was fetched (for tests and metrics). */
    fetchCount: () => fetches,
    close: () => dispatcher.close()
  }
}
