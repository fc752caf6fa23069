import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSigner } from 'fast-jwt'

export interface KeyPair {
  publicPem: string
  privatePem: string
  kid: string
  /** The algorithm tokens of this key are signed with. */
  alg: 'RS256' | 'ES256' | 'EdDSA'
}

let counter = 0

/** A fresh key pair: RSA 2048 (what most issuers use) unless asked for EC P-256 or Ed25519. */
export function makeKeyPair (kid = `k${++counter}`, kind: 'rsa' | 'ec' | 'ed25519' = 'rsa'): KeyPair {
  const { publicKey, privateKey } = kind === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519')
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    kid,
    alg: kind === 'rsa' ? 'RS256' : kind === 'ec' ? 'ES256' : 'EdDSA'
  }
}

/** An RS256 JWT for `claims`; `exp` defaults to an hour from now, `sub` to "alice". */
export function signToken (pair: KeyPair, claims: Record<string, unknown> = {}, header: { kid?: string } = {}): string {
  const now = Math.floor(Date.now() / 1000)
  const sign = createSigner({ key: pair.privatePem, algorithm: pair.alg, kid: header.kid ?? pair.kid })
  return sign({ sub: 'alice', iat: now, exp: now + 3600, ...claims })
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A token with any header, signed with HMAC-SHA256 over `secret` (or unsigned when null). */
export function forgeToken (header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | null): string {
  const input = `${b64(header)}.${b64(payload)}`
  if (secret === null) return `${input}.`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}

export function jwkOf (pair: KeyPair): Record<string, unknown> {
  return { ...createPublicKey(pair.publicPem).export({ format: 'jwk' }), kid: pair.kid, alg: pair.alg, use: 'sig' }
}

export interface Issuer {
  url: string
  /** Keys currently published. */
  keys: KeyPair[]
  jwksFetches: number
  mode: 'ok' | 'hang' | 'down'
  /** Omit jwks_uri from discovery, so clients fall back to /.well-known/jwks.json. */
  discoveryWithoutJwksUri: boolean
  close: () => Promise<void>
}

/** A real OIDC issuer on 127.0.0.1: discovery document and JWKS endpoint. */
export async function startIssuer (keys: KeyPair[]): Promise<Issuer> {
  const issuer: Issuer = { url: '', keys, jwksFetches: 0, mode: 'ok', discoveryWithoutJwksUri: false, close: async () => {} }
  const server = http.createServer((req, res) => {
    if (issuer.mode === 'hang') return
    if (issuer.mode === 'down') { res.writeHead(503); return res.end() }
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json')
      const doc: Record<string, unknown> = { issuer: issuer.url }
      if (!issuer.discoveryWithoutJwksUri) doc.jwks_uri = `${issuer.url}/keys`
      return res.end(JSON.stringify(doc))
    }
    if (req.url === '/keys' || req.url === '/.well-known/jwks.json') {
      issuer.jwksFetches++
      res.setHeader('content-type', 'application/json')
      return res.end(JSON.stringify({ keys: issuer.keys.map(jwkOf) }))
    }
    res.writeHead(404)
    res.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  issuer.close = async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  return issuer
}

/** Authorization headers for `subject`, signed by `pair`. */
export function bearerFor (pair: KeyPair, subject: string): Record<string, string> {
  return { authorization: `Bearer ${signToken(pair, { sub: subject })}` }
}
