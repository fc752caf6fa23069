import type { FastifyInstance } from 'fastify'
import { ConfigError } from '../errors.js'
import type { AuthOptions } from '../../schemas/options.js'
import { DEFAULT_TOKEN, localTokenAllowed } from './principal.js'

function loopback (address: string): boolean {
  return address === 'localhost' || address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.')
}

/**
 * The default token is for trying the server on this machine. In production it refuses to start;
 * anywhere it is announced loudly; and a server that listens beyond loopback with it is closed.
 */
export function guardDefaultToken (fastify: FastifyInstance, opts: AuthOptions, behindProxy: boolean): void {
  if (behindProxy && opts.anonymous) {
    throw new ConfigError('AUTH_ANONYMOUS_LOOPBACK (auth.anonymous) cannot be used behind a proxy or on Azure: every request arrives from loopback there')
  }
  if (!localTokenAllowed(opts) || opts.bearerToken !== DEFAULT_TOKEN) return
  if (behindProxy) {
    throw new ConfigError(`LOCAL_BEARER_TOKEN (auth.bearerToken) is the well-known default "${DEFAULT_TOKEN}", and this app is reached through a proxy or a platform: set your own token or configure JWT_KEY/JWT_ISSUER`)
  }
  if (process.env.NODE_ENV === 'production') {
    throw new ConfigError(`LOCAL_BEARER_TOKEN is the well-known default "${DEFAULT_TOKEN}" and NODE_ENV=production: set your own token or configure JWT_KEY/JWT_ISSUER`)
  }
  fastify.addHook('onReady', async () => {
    fastify.log.warn(`LOCAL_BEARER_TOKEN is the well-known default "${DEFAULT_TOKEN}": anyone who can reach this server can use it. Set LOCAL_BEARER_TOKEN or configure JWT before exposing it.`)
  })
  fastify.addHook('onListen', async () => {
    const address = fastify.server.address()
    const host = typeof address === 'object' && address ? address.address : 'localhost'
    if (loopback(host)) return
    fastify.log.fatal(`refusing to serve on ${host} with the default LOCAL_BEARER_TOKEN "${DEFAULT_TOKEN}": set LOCAL_BEARER_TOKEN (or JWT_KEY/JWT_ISSUER), or listen on 127.0.0.1`)
    process.exitCode = 1
    await fastify.close()
  })
}
