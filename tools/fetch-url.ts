import { Type } from '@sinclair/typebox'
import type { Agent } from 'undici'
import { BlockedDestinationError, createGuardedAgent } from '../lib/ssrf-guard.js'
import { defineTool, ToolError } from '../lib/tool.js'
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

async function readCapped (body: AsyncIterable<Buffer> & { destroy: () => void }, maxBytes: number) {
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of body) {
    const room = maxBytes - bytes
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room))
      bytes += room
      // Abort the connection instead of draining an endless body.
      body.destroy()
      return { buffer: Buffer.concat(chunks), bytes, capped: true }
    }
    chunks.push(chunk)
    bytes += chunk.length
  }
  return { buffer: Buffer.concat(chunks), bytes, capped: false }
}

/**
 * fetch_url: the server fetches a URL for the client, so every hop is checked against the
 * private-address block (lib/ssrf-guard.ts) and bounded in time, bytes and redirects.
 */
export function createFetchUrlTool (opts: FetchUrlOptions) {
  let agent: Agent | undefined
  const dispatcher = () => (agent ??= createGuardedAgent({ allowedHosts: opts.allowedHosts, timeoutMs: opts.timeoutMs }))

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
      try {
        for (let hop = 0; ; hop++) {
          // No caller headers are forwarded: no Authorization, no cookies.
          const res = await dispatcher().request({
            origin: target.origin,
            path: target.pathname + target.search,
            method: 'GET',
            headers: { 'user-agent': 'DataPulseSSE-fetch_url', accept: '*/*' },
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
          const { buffer, bytes, capped } = await readCapped(res.body, opts.maxBytes)
          const text = buffer.toString('utf8')
          const type = res.headers['content-type']
          return {
            status: res.statusCode,
            url: target.href,
            content_type: (Array.isArray(type) ? type[0] : type) ?? null,
            content: text.slice(0, opts.snippetChars),
            truncated: capped || text.length > opts.snippetChars,
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
      }
    }
  })
}
