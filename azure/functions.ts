import type { Readable } from 'node:stream'
// The package is CommonJS without static ESM exports: import the namespace, then pick.
import azureFunctions, { type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions'
import Fastify, { type FastifyInstance } from 'fastify'
import { Agent, request } from 'undici'
import dataPulse, { options as serverOptions, type DataPulseOptions } from '../app.js'
import { loggerOptions } from '../lib/logging/log.js'

export interface AzureAdapterOptions extends DataPulseOptions {
  /** Azure's route prefix (host.json extensions.http.routePrefix), stripped before routing. */
  routePrefix?: string
}

// Hop-by-hop headers belong to one connection and must not be forwarded.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer'])

/**
 * Serves the same app from Azure Functions (programming model v4). The app listens on a loopback
 * port inside the worker and each invocation is forwarded to it: `inject()` would buffer whole
 * responses, and /events must stream. The response body is passed on as a stream, which Azure
 * sends as it comes when HTTP streaming is enabled.
 */
export function createAzureHandler (options: AzureAdapterOptions = {}) {
  const { routePrefix = '/api', ...appOptions } = options
  // No body timeout: an SSE stream is silent between pings by design.
  const agent = new Agent({ bodyTimeout: 0, headersTimeout: 60_000 })
  let started: Promise<{ app: FastifyInstance, origin: string }> | undefined

  async function start () {
    // Logs go to the worker's stdout, which the Functions host collects; the level as for `npm start`.
    const app = Fastify({ ...serverOptions, logger: { ...loggerOptions, level: process.env.LOG_LEVEL || 'info' } })
    // Everyone reaches this app from loopback through the adapter: no default token, no anonymous mode.
    await app.register(dataPulse, { env: true, ...appOptions, behindProxy: true })
    const origin = await app.listen({ port: 0, host: '127.0.0.1' })
    return { app, origin }
  }

  async function handler (req: HttpRequest, context?: InvocationContext): Promise<HttpResponseInit> {
    let origin: string
    try {
      ({ origin } = await (started ??= start()))
    } catch (err) {
      // A configuration error is permanent: said in the Functions log, never to the caller.
      context?.error?.(`DataPulseSSE did not start: ${(err as Error).message}`)
      if (!context) console.error(`DataPulseSSE did not start: ${(err as Error).message}`)
      return { status: 500, jsonBody: { statusCode: 500, error: 'Internal Server Error', code: 'adapter_error', message: 'the app is not configured correctly; see the Functions log' } }
    }
    const url = new URL(req.url)
    let path = url.pathname
    if (routePrefix && (path === routePrefix || path.startsWith(`${routePrefix}/`))) path = path.slice(routePrefix.length) || '/'
    const headers: Record<string, string> = {}
    req.headers.forEach((value, name) => { if (!HOP_BY_HOP.has(name) && name !== 'host') headers[name] = value })
    // The app sees the adapter's loopback address; this says the request came from elsewhere.
    headers['x-forwarded-for'] ??= 'unknown'
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.from(await req.arrayBuffer())
    try {
      const res = await request(`${origin}${path}${url.search}`, {
        method: req.method as 'GET',
        headers,
        body,
        dispatcher: agent
      })
      const out: Record<string, string> = {}
      for (const [name, value] of Object.entries(res.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = Array.isArray(value) ? value.join(', ') : value
      }
      return { status: res.statusCode, headers: out, body: res.body as Readable }
    } catch (err) {
      context?.error?.('DataPulseSSE adapter could not reach the app', err)
      return { status: 502, jsonBody: { statusCode: 502, error: 'Bad Gateway', code: 'adapter_error', message: 'the app did not answer' } }
    }
  }

  return {
    handler,
    async close () {
      const running = await started?.catch(() => undefined)
      await running?.app.close()
      await agent.close()
    }
  }
}

/** Registers one HTTP trigger for every path, with response streaming on. Call it from your entry file. */
export function registerAzureFunctions (options: AzureAdapterOptions = {}): void {
  azureFunctions.app.setup({ enableHttpStream: true })
  const { handler } = createAzureHandler(options)
  azureFunctions.app.http('datapulse', {
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    authLevel: 'anonymous',
    route: '{*path}',
    handler
  })
}
