import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyPluginAsync } from 'fastify'
import { packageInfo } from '../lib/package-info.js'

/** GET /: the demo page (plain HTML and JS, no build step), served when DEMO_PAGE=true. */
const demoRoute: FastifyPluginAsync = async (fastify) => {
  const html = await readFile(join(packageInfo.root, 'public', 'index.html'), 'utf8')
  // Where to point a browser, said once the server listens.
  fastify.addHook('onListen', async () => {
    const address = fastify.server.address()
    if (address && typeof address === 'object') {
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
      fastify.log.info(`demo page at http://${host === '0.0.0.0' || host === '[::]' ? 'localhost' : host}:${address.port}${fastify.prefix}/`)
    }
  })
  fastify.get('/', async (_request, reply) => {
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache')
    // The page only talks to this server.
    reply.header('content-security-policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
    return html
  })
}

export default demoRoute
