// The floor, in its own process: the envelope on bare node:http. Prints {"port"} once listening;
// answers {cmd:"mem"} over IPC. (The server under test runs as `npm start` does: see run.mjs.)
import http from 'node:http'


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

const port = await startFloor()
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
