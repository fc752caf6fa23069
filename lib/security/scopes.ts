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

/** The scopes of `needed` the principal lacks; none for the local token, which holds every scope. */
export function missingScopes (needed: readonly string[] | undefined, principal: Principal): string[] {
  if (!needed || needed.length === 0 || principal.kind === 'local') return []
  return needed.filter((scope) => !principal.scopes.includes(scope))
}

/**
 * The step-up challenge (SEP-2350): the scopes the token holds as well as those it lacks, so a
 * client asks for exactly that and its new token loses nothing. The auth plugin adds
 * `resource_metadata` when an issuer is configured.
 */
export function scopeChallenge (missing: readonly string[], held: readonly string[]): { scope: string, header: string } {
  const scope = [...new Set([...held, ...missing])].join(' ')
  return { scope, header: `Bearer error="insufficient_scope", scope="${scope}"` }
}
