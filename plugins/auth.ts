import { timingSafeEqual, createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../lib/errors.js'
import type { AuthOptions } from '../schemas/options.js'

/** Who is calling. Sessions are bound to `id`. */
export interface Principal {
  id: string
  kind: 'local' | 'jwt'
  scopes: string[]
}

export interface AuthPluginOptions {
  auth: AuthOptions
}

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

export function createAuth (opts: AuthOptions) {
  // Hash both sides so the comparison is constant-time whatever the token's length.
  const localDigest = digest(opts.bearerToken)
  const allowLocal = opts.allowLocalBearer ?? process.env.NODE_ENV !== 'production'

  function unauthorized (description?: string): AppError {
    const params = ['realm="datapulse"']
    if (description) params.push('error="invalid_token"', `error_description="${description.replaceAll('"', "'")}"`)
    return new AppError(401, 'unauthorized', description ?? 'missing Bearer token', {
      'www-authenticate': `Bearer ${params.join(', ')}`
    })
  }

  async function verify (authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw unauthorized()
    if (authorization.length > opts.maxHeaderBytes) throw unauthorized('authorization header too large')
    const match = /^Bearer +([^\s]+) *$/i.exec(authorization)
    if (!match) throw unauthorized('authorization must be "Bearer <token>"')
    const token = match[1]
    if (allowLocal && timingSafeEqual(digest(token), localDigest)) {
      return { id: 'local', kind: 'local', scopes: [] }
    }
    throw unauthorized('token is not valid')
  }

  async function authenticate (request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    request.principal = await verify(request.headers.authorization)
  }

  return { verify, authenticate, unauthorized }
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
  fastify.decorate('auth', createAuth(opts.auth))
  fastify.decorateRequest('principal', null)
}, { name: 'datapulse-auth', fastify: '5.x' })
