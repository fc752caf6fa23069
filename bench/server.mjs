// The server under test, in its own process: DataPulseSSE from dist/ (argv[2] = "app"), or the
// bare floor (argv[2] = "floor"). Prints {"port"} once listening; answers {cmd:"mem"} over IPC.
import http from 'node:http'

const kind = process.argv[2]
const redisUrl = process.argv[3]

async function startApp () {
  const { default: Fastify } = await import('fastify')
  const { default: dataPulse } = await import('../dist/app.js')
  const app = Fastify({ logger: false })
  await app.register(dataPulse, {
    env: false,
    sessions: { maxSessions: 1_000_000, maxSessionsPerPrincipal: 1_000_000, ...(redisUrl ? { redisUrl, redisKeyPrefix: `bench${Date.now()}:` } : {}) },
    sse: { maxStreamsPerPrincipal: 1_000_000 },
    limits: { maxConcurrentCallsPerSession: 64 }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app.server.address().port
}

// The floor: the same envelope on bare node:http, no validation, no auth, no log. It is what the
// round trip costs with nothing of ours in it.
function startFloor () {
  const streams = new Map()
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x')
    const session = url.searchParams.get('session_id')
    if (req.method === 'GET' && url.pathname === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      res.write('retry: 2000\n\n')
      streams.set(session, res)
      res.on('close', () => { if (streams.get(session) === res) streams.delete(session) })
      return
    }
    if (req.method === 'POST' && url.pathname === '/message') {
      let body = ''
      req.on('data', (c) => { body += c })
      req.on('end', () => {
        const msg = JSON.parse(body)
        res.writeHead(202, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ status: 'accepted', request_id: msg.request_id }))
        const frame = { type: 'tool_result', request_id: msg.request_id, data: { time: new Date().toISOString() } }
        streams.get(session)?.write(`data: ${JSON.stringify(frame)}\n\n`)
      })
      return
    }
    res.writeHead(404)
    res.end()
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
}

const port = kind === 'floor' ? await startFloor() : await startApp()
process.on('message', (m) => {
  if (m?.cmd === 'mem') {
    globalThis.gc?.()
    const { rss, heapUsed } = process.memoryUsage()
    process.send({ rss, heapUsed })
  }
})
process.send({ port })
// A clean exit on SIGINT lets --cpu-prof write its profile (bench/profile.mjs).
process.on('SIGINT', () => process.exit(0))
