import type { Principal } from './principal.js'

/** RFC 6749 scope-token characters (no space, `"` or `\`): they go into a challenge header as they are. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** Refuses at registration a `scopes` list that is not made of OAuth scope tokens. */
export function checkScopes (kind: string, id: string, scopes: unknown): void {
  if (scopes === undefined) return
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s))) {
    throw new Error(`${kind} "${id}" scopes must be OAuth scope tokens (no spaces, quotes or backslashes)`)
  }
}

/**
 * Null when the principal holds every scope of `needed` (the local token holds them all); else the
 * step-up challenge (SEP-2350): the scopes it lacks, and as `scope` those it holds as well as those
 * it lacks, so a client asks for exactly that and its new token loses nothing. The auth plugin
 * adds `resource_metadata` to the header when an issuer is configured.
 */
export function scopeRefusal (needed: readonly string[] | undefined, principal: Principal): { missing: string[], scope: string, header: string } | null {
  if (!needed || needed.length === 0 || principal.kind === 'local') return null
  const missing = needed.filter((s) => !principal.scopes.includes(s))
  if (missing.length === 0) return null
  const scope = [...new Set([...principal.scopes, ...missing])].join(' ')
  return { missing, scope, header: `Bearer error="insufficient_scope", scope="${scope}"` }
}
