import type { FastifyRequest } from 'fastify'
import type { AuthOptions } from '../../schemas/options.js'

/** Who is calling. Sessions are bound to `id`. */
export interface Principal {
  id: string
  /** local: the shared token (holds every scope); jwt: our JWT check; host: the host's authenticate hook. */
  kind: 'local' | 'jwt' | 'host'
  /** The token's `sub`, for JWT principals. */
  subject?: string
  scopes: string[]
  /** When the credential expires (JWT exp, ms since the epoch); streams end then. */
  expiresAt?: number
}

/** What a host's `authenticate` hook returns for a caller it knows: at least an id. */
export interface HostPrincipal {
  id: string
  scopes?: string[]
  /** ms since the epoch, or a Date: streams the caller opened end then. */
  expiresAt?: number | Date
}

/**
 * The host app decides who calls: a principal, or null for 401 (with the usual WWW-Authenticate).
 * It replaces the token and JWT checks; sessions, scopes and budgets then follow its principals.
 */
export type AuthenticateHook = (request: FastifyRequest) => HostPrincipal | null | undefined | Promise<HostPrincipal | null | undefined>

/** The well-known token the server falls back to; never good enough beyond this machine. */
export const DEFAULT_TOKEN = 'secret_token'

/** Whether the local Bearer token is accepted: by default only when no JWT mode is configured. */
export function localTokenAllowed (opts: AuthOptions): boolean {
  return opts.allowLocalBearer ?? !(opts.jwtKey || opts.jwtIssuer || opts.introspectionClientId)
}
