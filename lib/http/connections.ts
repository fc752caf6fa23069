import type { Socket } from 'node:net'
import ipaddr from 'ipaddr.js'
import type { FastifyInstance } from 'fastify'

/** How long a socket may take to send its request headers: trickling sockets are cut. */
export const HEADERS_TIMEOUT_MS = 10_000
/**
 * How often Node looks for sockets past their header and request deadlines. Its default (30 s)
 * lets a silent socket live up to 40 s against a 10 s deadline; a check per second costs a walk
 * over the sockets still receiving a request, not over the streams.
 */
export const DEADLINE_CHECK_MS = 1000

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number]

/** An address or CIDR range ipaddr.js understands. */
export function isCidr (text: string): boolean {
  return parseRange(text) !== null
}

function parseRange (text: string): Range | null {
  try {
    return text.includes('/') ? ipaddr.parseCIDR(text) : [ipaddr.parse(text), ipaddr.parse(text).kind() === 'ipv4' ? 32 : 128]
  } catch {
    return null
  }
}

/** A matcher for the exempt ranges; IPv4-mapped IPv6 addresses match their IPv4 ranges. */
function matcher (ranges: string[]): (address: string) => boolean {
  const parsed = ranges.map(parseRange).filter((r): r is Range => r !== null)
  const cache = new Map<string, boolean>()
  return (address) => {
    let hit = cache.get(address)
    if (hit !== undefined) return hit
    hit = false
    try {
      let ip = ipaddr.parse(address)
      if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address()
      hit = parsed.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits))
    } catch { /* an address Node reports is always parseable; refuse to exempt otherwise */ }
    if (cache.size < 10_000) cache.set(address, hit)
    return hit
  }
}

export interface ConnectionLimits {
  max: number
  perIp: number
  exempt: string[]
  requestTimeoutMs: number
}

/**
 * Caps open sockets: in all (Node's server.maxConnections, unless the host app set its own) and
 * per client address. A socket over the cap is closed at once, before it costs a request; one
 * that trickles its headers is closed after HEADERS_TIMEOUT_MS, one that trickles its body after
 * the request deadline, each checked every DEADLINE_CHECK_MS.
 */
export function limitConnections (fastify: FastifyInstance, limits: ConnectionLimits): void {
  fastify.addHook('onReady', async () => {
    const server = fastify.server
    if (!Number.isFinite(server.maxConnections) || server.maxConnections === undefined) server.maxConnections = limits.max
    if (server.headersTimeout === 0 || server.headersTimeout > HEADERS_TIMEOUT_MS) server.headersTimeout = HEADERS_TIMEOUT_MS
    if (server.requestTimeout === 0) server.requestTimeout = limits.requestTimeoutMs
    // Read by Node when the server starts listening (onReady runs before that).
    const checking = server as unknown as { connectionsCheckingInterval: number }
    if (!(checking.connectionsCheckingInterval <= DEADLINE_CHECK_MS)) checking.connectionsCheckingInterval = DEADLINE_CHECK_MS
    if (limits.perIp === 0) return
    const exempt = matcher(limits.exempt)
    const open = new Map<string, number>()
    // One listener for every socket, not a closure (and once-wrapper) each: a held stream's bytes
    // count. The address it reads is Node's, cached on the socket when it was read below.
    function release (this: Socket): void {
      const address = this.remoteAddress ?? ''
      const left = (open.get(address) ?? 1) - 1
      if (left > 0) open.set(address, left)
      else open.delete(address)
    }
    server.on('connection', (socket: Socket) => {
      const address = socket.remoteAddress ?? ''
      if (exempt(address)) return
      const n = (open.get(address) ?? 0) + 1
      if (n > limits.perIp) {
        socket.destroy()
        return
      }
      open.set(address, n)
      socket.on('close', release)
    })
  })
}
