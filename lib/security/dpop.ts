import { createHash, createPublicKey, type JsonWebKey } from 'node:crypto'
import { createVerifier, TokenError } from 'fast-jwt'
import { algorithmsFor, ASYMMETRIC_ALGORITHMS } from './jwt-algorithms.js'
import { AppError } from '../errors.js'

/** Why a DPoP proof was refused: the text of `error_description` (our own words, header-safe). */
export class DpopError extends Error {
  override name = 'DpopError'
}

export interface DpopOptions {
  /** How old a proof may be (its `iat`), and how far in the future, in seconds. */
  maxAgeSeconds: number
  clockToleranceSeconds: number
  /** Records a proof's key; false when it was seen already (a replay), on any instance. */
  firstUse: (key: string, ttlMs: number) => Promise<boolean>
}

export interface ProofContext {
  method: string
  /** The request's URL as the client addressed it, without query or fragment. */
  url: string
  accessToken: string
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url')
const sha256 = (text: string) => createHash('sha256').update(text).digest()

/** The members RFC 7638 hashes for each key type, in lexical order. */
const THUMBPRINT_MEMBERS: Record<string, string[]> = { EC: ['crv', 'kty', 'x', 'y'], RSA: ['e', 'kty', 'n'], OKP: ['crv', 'kty', 'x'] }

/** RFC 7638 JWK thumbprint (SHA-256, base64url): what `cnf.jkt` binds a token to. */
export function thumbprint (jwk: Record<string, unknown>): string {
  const members = THUMBPRINT_MEMBERS[String(jwk.kty)]
  if (!members || members.some((m) => typeof jwk[m] !== 'string')) throw new DpopError('DPoP proof jwk is not a public EC, RSA or OKP key')
  return b64url(sha256(JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])))))
}

/** An htu as compared: scheme and host lowercased, default port dropped, no query or fragment. */
function normalized (url: string): string | null {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`.toLowerCase()
  } catch {
    return null
  }
}

/**
 * DPoP proofs (RFC 9449): a JWT the client signs with its own key for each request, bound to the
 * method, the URL and the access token. Returns the key's thumbprint, which the token's `cnf.jkt`
 * must equal; throws DpopError otherwise.
 */
export function createDpop (opts: DpopOptions) {
  const algorithms = ASYMMETRIC_ALGORITHMS.join(' ')

  async function verify (proof: string, ctx: ProofContext): Promise<string> {
    const [head] = proof.split('.')
    let header: { typ?: unknown, alg?: unknown, jwk?: unknown }
    try {
      header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'))
    } catch {
      throw new DpopError('DPoP proof is not a JWT')
    }
    if (header.typ !== 'dpop+jwt') throw new DpopError('DPoP proof typ must be dpop+jwt')
    if (typeof header.alg !== 'string' || !(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(header.alg)) throw new DpopError(`DPoP proof alg must be one of ${algorithms}`)
    const jwk = header.jwk
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new DpopError('DPoP proof needs its public key in jwk')
    if ('d' in jwk || 'p' in jwk || 'k' in jwk) throw new DpopError('DPoP proof jwk must be a public key')
    const jkt = thumbprint(jwk as Record<string, unknown>)
    let pem: string
    try {
      pem = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString()
    } catch {
      throw new DpopError('DPoP proof jwk is not a usable public key')
    }
    if (!algorithmsFor(pem).has(header.alg)) throw new DpopError('DPoP proof alg does not fit its key')
    let claims: Record<string, unknown>
    try {
      claims = await createVerifier({
        key: pem,
        algorithms: [header.alg as typeof ASYMMETRIC_ALGORITHMS[number]],
        requiredClaims: ['jti', 'htm', 'htu', 'iat', 'ath'],
        maxAge: opts.maxAgeSeconds * 1000,
        clockTolerance: opts.clockToleranceSeconds * 1000
      })(proof) as Record<string, unknown>
    } catch (err) {
      throw new DpopError(err instanceof TokenError && err.code === TokenError.codes.expired ? 'DPoP proof is too old' : 'DPoP proof signature or claims are not valid')
    }
    const now = Date.now() / 1000
    if (typeof claims.iat !== 'number' || claims.iat > now + opts.clockToleranceSeconds) throw new DpopError('DPoP proof iat is in the future')
    if (claims.htm !== ctx.method) throw new DpopError('DPoP proof htm does not match the request method')
    if (typeof claims.htu !== 'string' || normalized(claims.htu) !== normalized(ctx.url)) throw new DpopError('DPoP proof htu does not match the request URL')
    if (claims.ath !== b64url(sha256(ctx.accessToken))) throw new DpopError('DPoP proof ath does not match the access token')
    if (typeof claims.jti !== 'string' || claims.jti === '' || claims.jti.length > 256) throw new DpopError('DPoP proof jti must be a short string')
    // Kept as long as a proof with this iat could still be accepted.
    const ttlMs = (opts.maxAgeSeconds + 2 * opts.clockToleranceSeconds) * 1000
    if (!await opts.firstUse(`dpop:${b64url(sha256(`${jkt}.${claims.jti}`))}`, ttlMs)) throw new DpopError('DPoP proof was used before')
    return jkt
  }

  return { verify, algorithms }
}

export type Dpop = ReturnType<typeof createDpop>

/** The 401 a refused proof gets: a DPoP challenge naming what was wrong (our own words) and the algorithms. */
export function refusedProof (description: string, algorithms: string): AppError {
  return new AppError(401, 'invalid_dpop_proof', description, {
    'www-authenticate': `DPoP error="invalid_dpop_proof", error_description="${description.replace(/[^\x20-\x7e]|["\\]/g, "'")}", algs="${algorithms}"`
  })
}

/** Proofs seen, in this process only: for auth used without a session store. */
export function memoryFirstUse () {
  const seen = new Map<string, number>()
  return async (key: string, ttlMs: number): Promise<boolean> => {
    const now = Date.now()
    if (seen.size > 10_000) for (const [k, until] of seen) if (until <= now) seen.delete(k)
    if ((seen.get(key) ?? 0) > now) return false
    seen.set(key, now + ttlMs)
    return true
  }
}
