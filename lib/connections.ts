import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'

/** How long a socket may take to send its request headers: trickling sockets are cut. */
export const HEADERS_TIMEOUT_MS = 10_000

/**
 * Caps open sockets: in all (Node's server.maxConnections, unless the host app set its own) and
 * per client address. A socket over the cap is closed at once, before it costs a request; one
 * that trickles its headers is closed after HEADERS_TIMEOUT_MS.
 */
export function limitConnections (fastify: FastifyInstance, max: number, perIp: number): void {
  fastify.addHook('onReady', async () => {
    const server = fastify.server
    if (!Number.isFinite(server.maxConnections) || server.maxConnections === undefined) server.maxConnections = max
    if (server.headersTimeout === 0 || server.headersTimeout > HEADERS_TIMEOUT_MS) server.headersTimeout = HEADERS_TIMEOUT_MS
    if (perIp === 0) return
    const open = new Map<string, number>()
    server.on('connection', (socket: Socket) => {
      const address = socket.remoteAddress ?? ''
      const n = (open.get(address) ?? 0) + 1
      if (n > perIp) {
        socket.destroy()
        return
      }
      open.set(address, n)
      socket.once('close', () => {
        const left = (open.get(address) ?? 1) - 1
        if (left > 0) open.set(address, left)
        else open.delete(address)
      })
    })
  })
}
