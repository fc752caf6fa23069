import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from './errors.js'

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * DNS-rebinding protection for the MCP endpoints: a browser page on another origin that resolves
 * its name to this server must not reach it. Requests without Origin (non-browser clients) pass.
 */
export function originGuard (allowedOrigins: string[]) {
  const allowed = new Set(allowedOrigins.map((o) => o.replace(/\/$/, '').toLowerCase()))
  return async function checkOrigin (request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const origin = request.headers.origin
    if (origin === undefined) return
    let host: string
    try {
      host = new URL(origin).hostname
    } catch {
      throw new AppError(403, 'origin_forbidden', `Origin "${origin}" is not allowed`)
    }
    if (LOCAL_HOSTS.has(host) || allowed.has(origin.toLowerCase())) return
    throw new AppError(403, 'origin_forbidden', `Origin "${origin}" is not allowed; add it to ALLOWED_ORIGINS`)
  }
}
