import { hash } from 'node:crypto'

// The digest as a 32-character string: a Buffer (an ArrayBuffer per request) cost more
// than the hash itself under load.
export function digest (value: string): string {
  return hash('sha256', value, 'binary') // 'binary' is latin1: one character per byte
}

/** Compares two digests in constant time: every character is looked at, whatever differs. */
export function sameDigest (a: string, b: string): boolean {
  let diff = a.length ^ b.length
  for (let i = 0; i < b.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

export function scopesOf (payload: Record<string, unknown>): string[] {
  if (typeof payload.scope === 'string') return payload.scope.split(' ').filter(Boolean)
  if (Array.isArray(payload.scp)) return payload.scp.filter((s): s is string => typeof s === 'string')
  return []
}

// fast-jwt's codes, in words a client can act on.
export const TOKEN_ERRORS: Record<string, string> = {
  FAST_JWT_EXPIRED: 'token has expired',
  FAST_JWT_INACTIVE: 'token is not valid yet (nbf)',
  FAST_JWT_MISSING_REQUIRED_CLAIM: 'token lacks a required claim (exp, sub)',
  FAST_JWT_INVALID_ALGORITHM: 'token algorithm is not allowed for this key',
  FAST_JWT_INVALID_SIGNATURE: 'token signature is invalid',
  FAST_JWT_MALFORMED: 'token is malformed',
  FAST_JWT_INVALID_CLAIM_VALUE: 'token issuer or audience is not accepted',
  FAST_JWT_MISSING_SIGNATURE: 'token is not signed',
  FAST_JWT_INVALID_TYPE: 'token is malformed'
}
