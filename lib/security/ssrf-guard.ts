import dns from 'node:dns'
import net from 'node:net'
import ipaddr from 'ipaddr.js'
import { Agent, buildConnector } from 'undici'

/**
 * Why `address` may not be a fetch_url destination, or null when it is an ordinary public
 * unicast address. Only `unicast` is allowed: every special range (loopback, private, link-local
 * with cloud metadata, CGNAT, documentation, multicast, reserved…) is refused, and addresses that
 * embed an IPv4 one (mapped, NAT64, 6to4, Teredo) are refused outright rather than unwrapped,
 * because the embedded address is whatever the attacker chose.
 */
export function blockedReason (address: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6
  try {
    parsed = ipaddr.parse(address.replace(/^\[|\]$/g, ''))
  } catch {
    return 'not an IP address'
  }
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    const inner = (parsed as ipaddr.IPv6).toIPv4Address()
    const range = inner.range()
    return `IPv4-mapped ${range === 'unicast' ? 'address' : range}`
  }
  const range = parsed.range()
  if (range !== 'unicast') return range
  // ipaddr.js calls much of ::/8 "unicast", IPv4-compatible ::a.b.c.d included; only the
  // global unicast block 2000::/3 is public in IPv6.
  if (parsed.kind() === 'ipv6' && !(parsed as ipaddr.IPv6).match(GLOBAL_UNICAST)) return 'not global unicast (IPv4-compatible or reserved)'
  return null
}

const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number]

export class BlockedDestinationError extends Error {
  override name = 'BlockedDestinationError'
  readonly code = 'EBLOCKED'
  constructor (host: string, address: string, reason: string) {
    super(`destination ${host}${host === address ? '' : ` (${address})`} is not allowed (${reason})`)
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void

/** A dns.lookup replacement that refuses names resolving to any blocked address. */
function guardedLookup (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, [])
    // Refuse if ANY answer is blocked: otherwise a name with one public and one private record
    // lets the connection fall through to the private one.
    for (const { address } of addresses) {
      const reason = blockedReason(address)
      if (reason) return callback(new BlockedDestinationError(hostname, address, reason), [])
    }
    if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), [])
    if (options.all) return callback(null, addresses)
    callback(null, addresses[0].address, addresses[0].family)
  })
}

export interface GuardOptions {
  /** `host` or `host:port` entries that may be private (operator's explicit choice). */
  allowedHosts: string[]
  timeoutMs: number
}

/**
 * An undici dispatcher that checks every destination inside the connection path: names are
 * checked on the addresses the socket will really use (no window for a DNS answer to change
 * between check and connect), and IP literals, for which Node never calls `lookup`, are checked
 * before connecting. Redirect hops go through the same dispatcher, so each hop is checked.
 */
export function createGuardedAgent (opts: GuardOptions): Agent {
  const allowed = new Set(opts.allowedHosts.map((h) => h.toLowerCase()))
  const guarded = buildConnector({ timeout: opts.timeoutMs, lookup: guardedLookup } as buildConnector.BuildOptions)
  const open = buildConnector({ timeout: opts.timeoutMs })
  const connect: buildConnector.connector = (options, callback) => {
    const host = options.hostname.replace(/^\[|\]$/g, '').toLowerCase()
    const port = options.port || (options.protocol === 'https:' ? '443' : '80')
    const display = options.hostname.includes(':') && !options.hostname.startsWith('[') ? `[${options.hostname}]` : options.hostname
    if (allowed.has(host) || allowed.has(`${display.toLowerCase()}:${port}`) || allowed.has(`${host}:${port}`)) {
      return open(options, callback)
    }
    if (net.isIP(host)) {
      const reason = blockedReason(host)
      if (reason) return callback(new BlockedDestinationError(host, host, reason), null)
    }
    return guarded(options, callback)
  }
  return new Agent({
    connect,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs
  })
}
