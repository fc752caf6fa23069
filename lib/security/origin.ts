import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError, ConfigError } from '../errors.js'

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]'])

export interface GuardOptions {
  /** The URL clients use to reach this server (PUBLIC_URL), if it is not on loopback. */
  publicUrl?: string
  /** More Host names (or host:port) to accept; "*" turns the Host check off. */
  allowedHosts: string[]
  /** Origins allowed besides loopback ones and the public URL's (ALLOWED_ORIGINS, CORS_ORIGINS). */
  allowedOrigins: string[]
}

/** An origin as browsers send it: scheme://host[:port], lower-case, no path. */
export function parseOrigin (value: string, variable: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(`${variable}: "${value}" is not an origin like https://app.example.com`)
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname.length > 1 || url.search || url.hash || url.username) {
    throw new ConfigError(`${variable}: "${value}" is not an origin like https://app.example.com (scheme and host only)`)
  }
  return url.origin.toLowerCase()
}

/** PUBLIC_URL's origin; a value that is not an http(s) URL is a configuration error. */
export function parsePublicUrl (value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(`PUBLIC_URL: "${value}" is not a URL like https://mcp.example.com`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`PUBLIC_URL: "${value}" must be an http or https URL`)
  return url.origin.toLowerCase()
}

function hostname (host: string): string {
  // "[::1]:8000" → "[::1]", "localhost:8000" → "localhost"
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]
}

/**
 * DNS-rebinding protection for every route of the app: a page on another site that resolves
 * its own name to this server must not reach it. The Host header must name this server
 * (loopback names by default, the public URL's host, or an allowed host) and an Origin, when
 * present, must be one this server knows. /health and /ready stay open to probes that address
 * the server by IP.
 */
export function createRequestGuard (opts: GuardOptions) {
  const publicOrigin = opts.publicUrl ? parsePublicUrl(opts.publicUrl) : undefined
  const anyHost = opts.allowedHosts.includes('*')
  const hosts = new Set(opts.allowedHosts.map((h) => h.toLowerCase()))
  if (publicOrigin) hosts.add(new URL(publicOrigin).host)
  const origins = new Set(opts.allowedOrigins)
  if (publicOrigin) origins.add(publicOrigin)

  // Verdicts for the few Host values a server sees, so the check is one lookup per request;
  // bounded, since clients choose the header.
  const verdicts = new Map<string, boolean>()
  function hostAllowed (host: string | undefined): boolean {
    if (anyHost) return true
    if (!host) return false
    let allowed = verdicts.get(host)
    if (allowed === undefined) {
      const h = host.toLowerCase()
      allowed = LOOPBACK_NAMES.has(hostname(h)) || hosts.has(h) || hosts.has(hostname(h))
      if (verdicts.size < 64) verdicts.set(host, allowed)
    }
    return allowed
  }

  function originAllowed (origin: string): boolean {
    let url: URL
    try { url = new URL(origin) } catch { return false }
    return LOOPBACK_NAMES.has(url.hostname === '::1' ? '[::1]' : url.hostname) || origins.has(url.origin.toLowerCase())
  }

  // A callback hook, not an async one: it runs on every request and needs no promise.
  return function guard (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
    const url = request.url
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    if (path.endsWith('/health') || path.endsWith('/ready')) return done()
    if (!hostAllowed(request.headers.host)) {
      return done(new AppError(403, 'host_forbidden', 'Host is not one this server answers to; set PUBLIC_URL or ALLOWED_HOSTS'))
    }
    const origin = request.headers.origin
    if (origin !== undefined && !originAllowed(origin)) {
      return done(new AppError(403, 'origin_forbidden', 'Origin is not allowed; add it to ALLOWED_ORIGINS (or CORS_ORIGINS)'))
    }
    done()
  }
}

/** The base URL of this server as clients should see it: PUBLIC_URL, or the (already allowed) Host. */
export function publicBase (request: FastifyRequest, publicUrl?: string): string {
  return publicUrl ? publicUrl.replace(/\/$/, '') : `${request.protocol}://${request.host}`
}
