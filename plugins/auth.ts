import fp from 'fastify-plugin'
import { createVerifier, TokenError } from 'fast-jwt'
import { algorithmsFor, ASYMMETRIC_ALGORITHMS } from '../lib/security/jwt-algorithms.js'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../lib/errors.js'
import { createJwks, KeysUnavailableError, UnknownKeyError } from '../lib/security/jwks.js'
import { createIntrospection } from '../lib/security/introspection.js'
import { publicBase } from '../lib/security/origin.js'
import { guardDefaultToken } from '../lib/security/default-token.js'
import { sameSecret, scopesOf, TOKEN_ERRORS } from '../lib/security/tokens.js'
import { createDpop, DpopError, memoryFirstUse, refusedProof } from '../lib/security/dpop.js'
import type { AuthOptions } from '../schemas/options.js'
import { localTokenAllowed, type AuthenticateHook, type HostPrincipal, type Principal } from '../lib/security/principal.js'

export type { AuthenticateHook, HostPrincipal, Principal } from '../lib/security/principal.js'
export { DEFAULT_TOKEN, localTokenAllowed } from '../lib/security/principal.js'

export interface AuthPluginOptions {
  auth: AuthOptions
  authenticate?: AuthenticateHook
  publicUrl?: string
  /** See DataPulseOptions.behindProxy. */
  behindProxy?: boolean
}

/** Headers a proxy adds: a request carrying one is not local, whatever its socket says. */
const FORWARDED = ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host']

const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous', kind: 'local', scopes: Object.freeze([]) as unknown as string[] })
/** Every caller with the shared token is this one principal: one object, not one per request (an idle stream keeps its request). */
const LOCAL: Principal = Object.freeze({ id: 'local', kind: 'local', scopes: Object.freeze([]) as unknown as string[] })

function isLoopback (address: string | undefined): boolean {
  return address !== undefined && (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'))
}

export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource'

/** What a DPoP proof is checked against: the request it came with. */
// The URL is built only for a DPoP proof: most requests carry none.
interface ProofRequest { proof: unknown, method: string, url: () => string }
interface Checked { principal: Principal, jkt?: string }

export function createAuth (opts: AuthOptions, prefix = '', publicUrl?: string, hook?: AuthenticateHook, firstUse?: (key: string, ttlMs: number) => Promise<boolean>) {
  const allowLocal = localTokenAllowed(opts)
  const jwks = opts.jwtIssuer
    ? createJwks({ issuer: opts.jwtIssuer, timeoutMs: opts.jwksTimeoutMs, cooldownMs: opts.jwksCooldownMs, maxAgeMs: opts.jwksMaxAgeMs })
    : undefined
  const introspection = opts.introspectionClientId && opts.introspectionClientSecret
    ? createIntrospection({
      issuer: opts.jwtIssuer,
      url: opts.introspectionUrl,
      clientId: opts.introspectionClientId,
      clientSecret: opts.introspectionClientSecret,
      audience: opts.jwtAudience,
      timeoutMs: opts.jwksTimeoutMs,
      cacheMs: opts.introspectionCacheMs
    })
    : undefined
  const dpop = createDpop({ maxAgeSeconds: opts.dpopMaxAgeSeconds, clockToleranceSeconds: opts.clockToleranceSeconds, firstUse: firstUse ?? memoryFirstUse() })
  // Checked to be an RSA public key by resolveConfig.
  const staticKey = opts.jwtKey?.replace(/\\n/g, '\n')

  const verifyJwt = jwks || staticKey
    ? createVerifier({
      // Asymmetric algorithms only (no `alg: none`, no HS256 signed with the public key), and only
      // those the key itself is for: a token cannot choose one its key was not made for.
      algorithms: [...ASYMMETRIC_ALGORITHMS],
      key: async (decoded: { header: { kid?: unknown, alg?: unknown } }) => {
        const key = jwks ? await jwks.getKey(decoded.header.kid) : staticKey!
        if (!algorithmsFor(key).has(String(decoded.header.alg))) throw new TokenError(TokenError.codes.invalidAlgorithm, 'token algorithm is not allowed for this key')
        return key
      },
      ...(opts.jwtIssuer ? { allowedIss: opts.jwtIssuer } : {}),
      ...(opts.jwtAudience ? { allowedAud: opts.jwtAudience } : {}),
      // allowedIss/allowedAud only check claims that are present, so they are required too.
      requiredClaims: ['exp', 'sub', ...(opts.jwtIssuer ? ['iss'] : []), ...(opts.jwtAudience ? ['aud'] : [])],
      clockTolerance: opts.clockToleranceSeconds * 1000,
      // fast-jwt caps each cached entry at the token's own exp; a token verified with a key the
      // issuer has since removed stays accepted at most this long.
      cache: 1000,
      cacheTTL: Math.min(300_000, opts.jwksMaxAgeMs)
    }) as (token: string) => Promise<Record<string, unknown>> | Record<string, unknown>
    : undefined

  // Descriptions are our own fixed texts, never token-derived, and are kept to header-safe ASCII.
  function unauthorized (description: string | undefined, metadata?: string | (() => string)): AppError {
    const metadataUrl = typeof metadata === 'function' ? metadata() : metadata
    const params = ['realm="datapulse"']
    if (description) params.push('error="invalid_token"', `error_description="${description.replace(/[^\x20-\x7e]|["\\]/g, "'")}"`)
    if (opts.jwtIssuer && metadataUrl) params.push(`resource_metadata="${metadataUrl}"`)
    return new AppError(401, description ? 'invalid_token' : 'unauthorized', description ?? 'missing Bearer token', {
      'www-authenticate': `Bearer ${params.join(', ')}`
    })
  }

  /**
   * The principal for an Authorization header value, or a 401/503 AppError thrown. The local
   * token is settled at once (no promise on the hot path); a JWT may need the issuer's keys.
   */
  function check (authorization: string | undefined, metadataUrl?: string | (() => string), request?: ProofRequest): Principal | Promise<Principal> {
    if (!authorization) throw unauthorized(undefined, metadataUrl)
    // Checked before any parsing: an oversized header is never decoded.
    if (authorization.length > opts.maxHeaderBytes) throw unauthorized('authorization header too large', metadataUrl)
    const match = /^(Bearer|DPoP) +([^\s]+) *$/i.exec(authorization)
    if (!match) throw unauthorized('authorization must be "Bearer <token>" or "DPoP <token>"', metadataUrl)
    const dpopScheme = match[1].toLowerCase() === 'dpop'
    const token = match[2]
    if (!dpopScheme && allowLocal && sameSecret(token, opts.bearerToken)) {
      return LOCAL
    }
    const jwtShaped = token.split('.').length === 3
    // Not a JWT: an opaque token the authorization server can vouch for.
    let checked: Promise<Checked>
    if (!jwtShaped && introspection) checked = introspect(token, metadataUrl)
    else if (!verifyJwt || !jwtShaped) throw unauthorized('token is not valid', metadataUrl)
    else checked = verifyToken(token, metadataUrl)
    return checked.then((found) => bound(found, token, dpopScheme, metadataUrl, request))
  }

  /**
   * Sender-constrained tokens (DPoP, RFC 9449): a token bound to a key (`cnf.jkt`) is good only
   * with the DPoP scheme and a fresh proof signed by that key for this request; used as a bearer
   * token it is refused. The DPoP scheme with an unbound token is refused too.
   */
  async function bound (found: Checked, token: string, dpopScheme: boolean, metadataUrl?: string | (() => string), request?: ProofRequest): Promise<Principal> {
    if (!dpopScheme) {
      if (found.jkt !== undefined) throw unauthorized('this token is bound to a DPoP key: send it as "DPoP <token>" with a DPoP proof', metadataUrl)
      return found.principal
    }
    const proof = request?.proof
    if (typeof proof !== 'string' || proof === '') throw dpopRefused('a DPoP request needs exactly one DPoP proof header')
    if (found.jkt === undefined) throw unauthorized('the DPoP scheme needs a DPoP-bound token', metadataUrl)
    let jkt: string
    try {
      jkt = await dpop.verify(proof, { method: request!.method, url: request!.url(), accessToken: token })
    } catch (err) {
      if (err instanceof DpopError) throw dpopRefused(err.message)
      throw err
    }
    if (jkt !== found.jkt) throw dpopRefused('DPoP proof key is not the one the token is bound to')
    return found.principal
  }

  const dpopRefused = (description: string) => refusedProof(description, dpop.algorithms)

  async function introspect (token: string, metadataUrl?: string | (() => string)): Promise<Checked> {
    const found = await introspection!.check(token)
    if (!found) throw unauthorized('token is not active', metadataUrl)
    // The same principal as a JWT of the same subject: sessions follow the subject, not the format.
    const principal: Principal = { id: `jwt:${found.sub}`, kind: 'jwt', subject: found.sub, scopes: found.scopes }
    if (found.expiresAt !== undefined) principal.expiresAt = found.expiresAt
    return { principal, jkt: found.jkt }
  }

  async function verifyToken (token: string, metadataUrl?: string | (() => string)): Promise<Checked> {
    try {
      const payload = await verifyJwt!(token)
      // A principal is a non-empty string subject; anything else would merge unrelated callers.
      if (typeof payload.sub !== 'string' || payload.sub === '' || payload.sub.length > 256) {
        throw unauthorized('token sub claim must be a non-empty string', metadataUrl)
      }
      const sub = payload.sub
      const principal: Principal = { id: `jwt:${sub}`, kind: 'jwt', subject: sub, scopes: scopesOf(payload) }
      if (typeof payload.exp === 'number') principal.expiresAt = payload.exp * 1000
      const cnf = payload.cnf as { jkt?: unknown } | undefined
      return { principal, jkt: typeof cnf?.jkt === 'string' ? cnf.jkt : undefined }
    } catch (err) {
      if (err instanceof AppError) throw err
      const original = (err as { originalError?: unknown }).originalError
      if (original instanceof KeysUnavailableError) {
        throw new AppError(503, 'auth_unavailable', 'cannot verify tokens right now: the issuer\'s signing keys are unavailable', { 'retry-after': '5' })
      }
      const description = original instanceof UnknownKeyError
        ? 'token signing key is not one the issuer publishes'
        : err instanceof TokenError ? TOKEN_ERRORS[err.code] ?? 'token is not valid' : 'token is not valid'
      throw unauthorized(description, metadataUrl)
    }
  }

  /** Resolves the principal for an Authorization header value, or throws a 401/503 AppError. */
  async function verify (authorization: string | undefined, metadataUrl?: string | (() => string)): Promise<Principal> {
    return check(authorization, metadataUrl)
  }

  /**
   * The onRequest hook of authenticated routes. A callback hook: with the local token it
   * finishes synchronously, without a promise per request.
   */
  /** A host principal checked and made ours: its id namespaced, so it never equals "local" or a JWT's. */
  function fromHost (given: HostPrincipal | null | undefined, metadata: () => string): Principal {
    if (given === null || given === undefined) throw unauthorized(undefined, metadata)
    if (typeof given.id !== 'string' || given.id === '' || given.id.length > 256) {
      throw new Error('auth.authenticate must return null or a principal whose id is a non-empty string of at most 256 characters')
    }
    const principal: Principal = { id: `host:${given.id}`, kind: 'host', subject: given.id, scopes: Array.isArray(given.scopes) ? given.scopes.filter((s) => typeof s === 'string') : [] }
    const expires = given.expiresAt instanceof Date ? given.expiresAt.getTime() : given.expiresAt
    if (typeof expires === 'number' && Number.isFinite(expires)) {
      if (expires <= Date.now()) throw unauthorized('credential has expired', metadata)
      principal.expiresAt = expires
    }
    return principal
  }

  function authenticateWithHook (request: FastifyRequest, done: (err?: Error) => void, metadata: () => string): void {
    let given: ReturnType<AuthenticateHook>
    try {
      given = hook!(request)
    } catch (err) {
      return done(err as Error)
    }
    const settle = (value: HostPrincipal | null | undefined) => {
      let principal: Principal
      try { principal = fromHost(value, metadata) } catch (err) { return done(err as Error) }
      request.principal = principal
      done()
    }
    if (given instanceof Promise) given.then(settle, done)
    else settle(given)
  }

  function authenticate (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
    if (hook) return authenticateWithHook(request, done, () => `${publicBase(request, publicUrl)}${prefix}${RESOURCE_METADATA_PATH}`)
    if (opts.anonymous && !request.headers.authorization && isLoopback(request.socket.remoteAddress) &&
      !FORWARDED.some((h) => request.headers[h] !== undefined)) {
      request.principal = ANONYMOUS
      return done()
    }
    // Built only for a 401's WWW-Authenticate, never on the successful path.
    const metadata = () => `${publicBase(request, publicUrl)}${prefix}${RESOURCE_METADATA_PATH}${request.url.split('?')[0] === `${prefix}/mcp` ? '/mcp' : ''}`
    let result: Principal | Promise<Principal>
    try {
      result = check(request.headers.authorization, metadata, {
        proof: request.headers.dpop,
        method: request.method,
        url: () => `${publicBase(request, publicUrl)}${request.url.split('?')[0]}`
      })
    } catch (err) {
      return done(err as Error)
    }
    if (result instanceof Promise) {
      result.then((principal) => { request.principal = principal; done() }, done)
    } else {
      request.principal = result
      done()
    }
  }

  return {
    verify,
    authenticate,
    unauthorized,
    /** JWKS fetches so far (0 without JWKS). */
    jwksFetches: () => jwks?.fetchCount() ?? 0,
    close: async () => { await jwks?.close(); await introspection?.close() }
  }
}

export type Auth = ReturnType<typeof createAuth>

declare module 'fastify' {
  interface FastifyInstance {
    auth: Auth
  }
  interface FastifyRequest {
    principal: Principal | null
  }
}

export default fp(async function authPlugin (fastify: FastifyInstance, opts: AuthPluginOptions) {
  // The host's hook replaces the token check, so the default token is not in play.
  if (!opts.authenticate) guardDefaultToken(fastify, opts.auth, opts.behindProxy ?? false)
  // DPoP proofs are remembered in the session store (when registered), so a replay is caught on any instance.
  const firstUse = async (key: string, ttlMs: number) => fastify.hasDecorator('sessions')
    ? fastify.sessions.putRecord(key, '1', 0, ttlMs)
    : fallback(key, ttlMs)
  const fallback = memoryFirstUse()
  const auth = createAuth(opts.auth, fastify.prefix, opts.publicUrl, opts.authenticate, firstUse)
  fastify.decorate('auth', auth)
  fastify.decorateRequest('principal', null)
  // Step-up (SEP-2350): a 403 insufficient_scope challenge points at the resource metadata, so a
  // client knows where to ask for the wider scope. Only with an issuer, which the metadata names.
  if (opts.auth.jwtIssuer) {
    fastify.addHook('onSend', (request, reply, payload, done) => {
      if (reply.statusCode === 403) {
        const challenge = reply.getHeader('www-authenticate')
        if (typeof challenge === 'string' && challenge.includes('insufficient_scope') && !challenge.includes('resource_metadata=')) {
          const path = request.url.split('?')[0] === `${fastify.prefix}/mcp` ? '/mcp' : ''
          reply.header('www-authenticate', `${challenge}, resource_metadata="${publicBase(request, opts.publicUrl)}${fastify.prefix}${RESOURCE_METADATA_PATH}${path}"`)
        }
      }
      done(null, payload)
    })
  }
  fastify.addHook('onClose', auth.close)
}, { name: 'datapulse-auth', fastify: '5.x' })
