import { createPublicKey } from 'node:crypto'

/** Every asymmetric algorithm fast-jwt verifies; never `none`, never HMAC (a public key is no secret). */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const

const BY_CURVE: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }
const cache = new Map<string, ReadonlySet<string>>()

/**
 * The algorithms a public key can verify: RSA keys RS256–512 and PS256–512, an EC key the ES of its curve,
 * Ed25519/Ed448 EdDSA. Empty for anything else (an unusable key). A token's `alg` must be one of
 * them, so no token can pick an algorithm its key was not made for.
 */
export function algorithmsFor (pem: string): ReadonlySet<string> {
  let found = cache.get(pem)
  if (found) return found
  let algs: string[] = []
  try {
    const key = createPublicKey(pem)
    const type = key.asymmetricKeyType
    if (type === 'rsa' || type === 'rsa-pss') algs = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    else if (type === 'ec') algs = [BY_CURVE[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? ''].filter(Boolean)
    else if (type === 'ed25519' || type === 'ed448') algs = ['EdDSA']
  } catch { /* not a public key: nothing verifies with it */ }
  found = new Set(algs)
  if (cache.size < 1000) cache.set(pem, found)
  return found
}
