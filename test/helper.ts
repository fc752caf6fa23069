import http from 'node:http'
import net from 'node:net'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import dataPulse, { type DataPulseOptions } from '../app.js'

export const TOKEN = 'secret_token'

/** A loopback port nobody listens on right now (for child processes that need a fixed port). */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
export const AUTH = { authorization: `Bearer ${TOKEN}` }

export interface Running {
  app: FastifyInstance
  url: string
  close: () => Promise<void>
}

/** An app whose JWTs are verified with a fresh key pair, and the headers of two principals. */
export async function startWithTwoPrincipals (opts: DataPulseOptions = {}) {
  const { makeKeyPair, bearerFor } = await import('./jwt-keys.js')
  const pair = makeKeyPair()
  const srv = await startApp({ ...opts, auth: { ...opts.auth, jwtKey: pair.publicPem } })
  return { srv, pair, alice: bearerFor(pair, 'alice'), bob: bearerFor(pair, 'bob') }
}

/** Builds the real app on a fresh Fastify, listening on a free loopback port. */
export async function startApp (
  opts: DataPulseOptions = {},
  host?: (app: FastifyInstance) => Promise<void>,
  server: FastifyServerOptions = {}
): Promise<Running> {
  // Some clients (the MCP SDK's reconnecting GET) leave a socket that never sends a request;
  // Node keeps such a socket until headersTimeout, which would stall every teardown by a minute.
  const app = Fastify({ logger: false, forceCloseConnections: true, ...server })
  if (host) await host(app)
  else await app.register(dataPulse, { env: false, ...opts })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, url: `http://127.0.0.1:${address.port}`, close: () => app.close() }
}

export interface HttpResult {
  status: number
  headers: http.IncomingHttpHeaders
  text: string
  json: () => any
}

/** A plain HTTP request; body objects are sent as JSON. */
export function request (method: string, url: string, opts: { headers?: Record<string, string>, body?: unknown } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers }
    let payload: Buffer | undefined
    if (opts.body !== undefined) {
      payload = Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body))
      headers['content-type'] ??= 'application/json'
      headers['content-length'] = String(payload.length)
    }
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

export function post (base: string, path: string, body: unknown, headers: Record<string, string> = AUTH) {
  return request('POST', base + path, { headers, body })
}

/** POSTs every 200 ms until it is accepted (202) or `timeoutMs` pass; the last status. */
export async function postUntilAccepted (base: string, path: string, body: unknown, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let status = 0
  while (status !== 202 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    status = (await post(base, path, body)).status
  }
  return status
}

/** Polls `check` until it holds or `timeoutMs` pass: waits for what a test asserts, not for a time. */
export async function eventually (check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
}

/** The server's open SSE streams, from /metrics: a closed stream counts once the server saw it go. */
export async function openStreams (base: string): Promise<number> {
  const text = (await request('GET', `${base}/metrics`)).text
  return Number(/^datapulse_open_streams (\d+)/m.exec(text)?.[1] ?? NaN)
}

export interface SseEventRecord {
  id?: string
  event?: string
  data: string
  json: () => any
}

/**
 * A minimal SSE client over node:http, as a program would read the stream: it parses frames,
 * keeps comments apart, and lets a test wait for a frame or pause reading.
 */
export class SseClient {
  events: SseEventRecord[] = []
  comments: string[] = []
  status = 0
  headers: http.IncomingHttpHeaders = {}
  ended = false
  private buffer = ''
  private waiters: Array<() => void> = []
  private req!: http.ClientRequest
  res?: http.IncomingMessage

  static open (url: string, headers: Record<string, string> = AUTH): Promise<SseClient> {
    return SseClient.request('GET', url, headers)
  }

  /** Any request whose response is read as an SSE stream (MCP POSTs answer that way too). */
  static request (method: string, url: string, headers: Record<string, string>, body?: string): Promise<SseClient> {
    const client = new SseClient()
    return new Promise((resolve, reject) => {
      const sent = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }
      client.req = http.request(url, { method, headers: { accept: 'text/event-stream', ...sent, ...headers }, agent: false }, (res) => {
        client.res = res
        client.status = res.statusCode ?? 0
        client.headers = res.headers
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => client.feed(chunk))
        res.on('end', () => { client.ended = true; client.notify() })
        res.on('close', () => { client.ended = true; client.notify() })
        res.on('error', () => {})
        resolve(client)
      })
      client.req.on('error', reject)
      client.req.end(body)
    })
  }

  private feed (chunk: string) {
    this.buffer += chunk
    let cut: number
    while ((cut = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, cut)
      this.buffer = this.buffer.slice(cut + 2)
      const ev: Partial<SseEventRecord> = {}
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) { this.comments.push(line.slice(1).trim()); continue }
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'data') data.push(value)
        else if (field === 'id') ev.id = value
        else if (field === 'event') ev.event = value
      }
      if (data.length > 0) {
        const text = data.join('\n')
        this.events.push({ ...ev, data: text, json: () => JSON.parse(text) })
      }
    }
    this.notify()
  }

  private notify () {
    for (const w of this.waiters.splice(0)) w()
  }

  /** Waits until `predicate` holds over what has arrived, or fails after `timeoutMs`. */
  async until (predicate: (c: SseClient) => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!predicate(this)) {
      const left = deadline - Date.now()
      if (left <= 0) {
        const got = this.events.map((e) => e.data.length > 120 ? `${e.data.slice(0, 120)}…` : e.data)
        throw new Error(`timed out waiting for ${what}; got ${got.length} events: ${got.slice(-5).join(' | ')}`)
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  /** Waits for the frame whose JSON has this request_id (envelope) or id (JSON-RPC). */
  async frameFor (requestId: string | number, timeoutMs = 5000): Promise<any> {
    const find = () => this.events.find((e) => {
      try { const j = e.json(); return j.request_id === requestId || j.id === requestId } catch { return false }
    })
    await this.until(() => find() !== undefined, timeoutMs, `frame for ${requestId}`)
    return find()!.json()
  }

  close () {
    this.req.destroy()
  }
}

/**
 * The server as `fastify start` runs it, in a child process with a heap limit, once /health
 * answers; `output()` is what it printed. Killed when the test ends.
 */
export async function spawnServer (t: { teardown (fn: () => void): void }, o: { heapMb: number, args: string[], env?: Record<string, string>, entry?: string }) {
  const { spawn } = await import('node:child_process')
  const port = await freePort()
  const child = spawn(process.execPath, [`--max-old-space-size=${o.heapMb}`, 'node_modules/fastify-cli/cli.js', 'start', ...o.args, '-p', String(port), '-a', '127.0.0.1', o.entry ?? 'dist/app.js'],
    { cwd: new URL('..', import.meta.url), env: { ...process.env, DEMO_PAGE: 'false', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d })
  child.stderr.on('data', (d: Buffer) => { output += d })
  t.teardown(() => child.kill('SIGKILL'))
  const base = `http://127.0.0.1:${port}`
  const started = Date.now()
  while (child.exitCode === null && Date.now() - started < 60_000) {
    if ((await request('GET', `${base}/health`).then((r) => r.status, () => 0)) === 200) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { child, base, output: () => output }
}
