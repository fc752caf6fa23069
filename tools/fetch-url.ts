import { Type } from '@sinclair/typebox'
import { request } from 'undici'
import { defineTool } from '../lib/tool.js'
import type { FetchUrlOptions } from '../schemas/options.js'

export interface FetchUrlResult {
  status: number
  url: string
  content_type: string | null
  content: string
  truncated: boolean
  bytes: number
}

const FetchUrlInput = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'http or https URL to fetch' })
})

export function createFetchUrlTool (opts: FetchUrlOptions) {
  return defineTool({
    name: 'fetch_url',
    description: 'Fetches an http(s) URL and returns its status and the start of its body.',
    input: FetchUrlInput,
    async handler ({ url }, ctx): Promise<FetchUrlResult> {
      let target: URL
      try { target = new URL(url) } catch { throw new Error(`"${url}" is not a valid URL`) }
      if (target.protocol !== 'http:' && target.protocol !== 'https:') {
        throw new Error(`scheme "${target.protocol.slice(0, -1)}" is not allowed; use http or https`)
      }
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(opts.timeoutMs)])
      const res = await request(target, { method: 'GET', signal, maxRedirections: 0 } as Parameters<typeof request>[1])
      const chunks: Buffer[] = []
      let bytes = 0
      let truncated = false
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const room = opts.maxBytes - bytes
        if (chunk.length >= room) {
          chunks.push(chunk.subarray(0, room))
          bytes += room
          truncated = true
          // Stop reading: the rest of the body is never pulled off the socket.
          res.body.destroy()
          break
        }
        chunks.push(chunk)
        bytes += chunk.length
      }
      const text = Buffer.concat(chunks).toString('utf8')
      const header = res.headers['content-type']
      return {
        status: res.statusCode,
        url: target.href,
        content_type: Array.isArray(header) ? header[0] : header ?? null,
        content: text.slice(0, opts.snippetChars),
        truncated: truncated || text.length > opts.snippetChars,
        bytes
      }
    }
  })
}
