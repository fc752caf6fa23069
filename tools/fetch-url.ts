import { Type } from '@sinclair/typebox'
import type { Agent } from 'undici'
import { BlockedDestinationError, createGuardedAgent } from '../lib/security/ssrf-guard.js'
import { defineTool, ToolError } from '../lib/tool.js'
import { injectTraceContext } from '../lib/tracing.js'
import type { FetchUrlOptions } from '../schemas/options.js'

export interface FetchUrlResult {
  status: number
  /** The final URL, after redirects. */
  url: string
  content_type: string | null
  /** The first `snippetChars` characters of the body. */
  content: string
  /** True when the body was longer than what was read or returned. */
  truncated: boolean
  /** Bytes of body read (at most `maxBytes`). */
  bytes: number
}

const FetchUrlInput = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'http or https URL to fetch' })
})

const REDIRECTS = new Set([301, 302, 303, 307, 308])

function parseTarget (raw: string, base?: URL): URL {
  let url: URL
  try {
    url = new URL(raw, base)
  } catch {
    throw new ToolError(`"${raw}" is not a valid URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ToolError(`scheme "${url.protocol.slice(0, -1)}" is not allowed; use http or https`)
  }
  if (url.username || url.password) throw new ToolError('URLs with credentials are not allowed')
  return url
}

/**
 * Reads up to `maxBytes` of a body but keeps only the first `keepBytes`: the tool returns a
 * snippet, so a call holds a few KiB whatever the body's size, and many calls at once cannot
 * add up to the heap (the rest is counted and dropped as it arrives).
 */
async function readCapped (body: AsyncIterable<Buffer> & { destroy: () => void }, maxBytes: number, keepBytes: number) {
  const kept: Buffer[] = []
  let keptBytes = 0
  let bytes = 0
  for await (const chunk of body) {
    const room = Math.min(chunk.length, maxBytes - bytes)
    if (keptBytes < keepBytes) {
      const take = chunk.subarray(0, Math.min(room, keepBytes - keptBytes))
      kept.push(Buffer.from(take))
      keptBytes += take.length
    }
    bytes += room
    if (room < chunk.length) {
      // Abort the connection instead of draining an endless body.
      body.destroy()
      return { buffer: Buffer.concat(kept), bytes, capped: true }
    }
  }
  return { buffer: Buffer.concat(kept), bytes, capped: false }
}

/** At most `max` fetches at once; the rest wait their turn (never refused) until their signal ends. */
function createGate (max: number) {
  let running = 0
  const waiting: Array<() => void> = []
  return async function enter (signal: AbortSignal): Promise<() => void> {
    if (running >= max) {
      await new Promise<void>((resolve, reject) => {
        const go = () => { signal.removeEventListener('abort', quit); resolve() }
        const quit = () => { waiting.splice(waiting.indexOf(go) >>> 0, 1); reject(signal.reason) }
        waiting.push(go)
        signal.addEventListener('abort', quit, { once: true })
      })
    } else running++
    let left = false
    return () => {
      if (left) return
      left = true
      const next = waiting.shift()
      if (next) next()
      else running--
    }
  }
}

/**
 * fetch_url: the server fetches a URL for the client, so every hop is checked against the
 * private-address block (lib/security/ssrf-guard.ts) and bounded in time, bytes and redirects.
 */
export function createFetchUrlTool (opts: FetchUrlOptions) {
  let agent: Agent | undefined
  const dispatcher = () => (agent ??= createGuardedAgent({ allowedHosts: opts.allowedHosts, timeoutMs: opts.timeoutMs }))
  // Outgoing sockets are a server-wide budget: sessions are many, and each may run several calls.
  const enter = createGate(opts.maxConcurrent)
  // Enough bytes for snippetChars characters of UTF-8, however wide.
  const keepBytes = opts.snippetChars * 4 + 4

  return defineTool({
    name: 'fetch_url',
    description: 'Fetches a public http(s) URL and returns its status, content type and the start of its body.',
    input: FetchUrlInput,
    // The tool enforces its own, shorter deadline; this only keeps the registry's from cutting in first.
    timeoutMs: opts.timeoutMs + 1000,
    async close () {
      await agent?.close()
    },
    async handler ({ url }, ctx): Promise<FetchUrlResult> {
      let target = parseTarget(url)
      const deadline = AbortSignal.timeout(opts.timeoutMs)
      const signal = AbortSignal.any([ctx.signal, deadline])
      let leave: (() => void) | undefined
      try {
        leave = await enter(signal)
        for (let hop = 0; ; hop++) {
          // No caller headers are forwarded: no Authorization, no cookies.
          const res = await dispatcher().request({
            origin: target.origin,
            path: target.pathname + target.search,
            method: 'GET',
            // The caller's trace goes on to the destination (a no-op without an OpenTelemetry SDK).
            headers: injectTraceContext({ 'user-agent': 'DataPulseSSE-fetch_url', accept: '*/*' }),
            signal
          })
          const location = res.headers.location
          if (REDIRECTS.has(res.statusCode) && typeof location === 'string') {
            // dump() discards a small body and closes a large one without erroring the request.
            await res.body.dump({ limit: 64 * 1024 })
            if (hop >= opts.maxRedirects) throw new ToolError(`too many redirects (more than ${opts.maxRedirects})`)
            target = parseTarget(location, target)
            continue
          }
          const { buffer, bytes, capped } = await readCapped(res.body, opts.maxBytes, keepBytes)
          const text = buffer.toString('utf8')
          const type = res.headers['content-type']
          return {
            status: res.statusCode,
            url: target.href,
            content_type: (Array.isArray(type) ? type[0] : type) ?? null,
            content: text.slice(0, opts.snippetChars),
            truncated: capped || bytes > buffer.length || text.length > opts.snippetChars,
            bytes
          }
        }
      } catch (err) {
        if (deadline.aborted) throw new ToolError(`timed out after ${opts.timeoutMs} ms fetching ${target.href}`)
        if (err instanceof BlockedDestinationError) throw new ToolError(err.message)
        const cause = (err as { cause?: unknown }).cause
        if (cause instanceof BlockedDestinationError) throw new ToolError(cause.message)
        if (err instanceof ToolError || ctx.signal.aborted) throw err
        // The destination is the caller's own, so naming what went wrong there tells it nothing new.
        const code = (cause as { code?: unknown } | undefined)?.code ?? (err as { code?: unknown }).code
        throw new ToolError(`could not fetch ${target.href}: ${typeof code === 'string' ? code : 'request failed'}`, { cause: err })
      } finally {
        leave?.()
      }
    }
  })
}
