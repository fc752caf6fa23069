// Peer: the official SDK v1 (@modelcontextprotocol/sdk) serving get_time, as its docs show:
// Streamable HTTP with sessions on /mcp and HTTP+SSE on /sse + /messages, on node:http.
// Prints {"port"} over IPC once listening.
import http from 'node:http'
import { randomUUID } from 'node:crypto'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'

function server () {
  const s = new McpServer({ name: 'sdk-v1-peer', version: '1.0.0' })
  s.registerTool('get_time', { description: 'Returns the current server time' }, async () => {
    const time = new Date().toISOString()
    return { content: [{ type: 'text', text: JSON.stringify({ time }) }], structuredContent: { time } }
  })
  return s
}

const streamable = new Map()
const sse = new Map()

async function body (req) {
  let text = ''
  for await (const chunk of req) text += chunk
  return text ? JSON.parse(text) : undefined
}

const app = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x')
  if (url.pathname === '/mcp') {
    const sid = req.headers['mcp-session-id']
    if (req.method === 'POST') {
      const msg = await body(req)
      let transport = sid ? streamable.get(sid) : undefined
      if (!transport && isInitializeRequest(msg)) {
        transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => streamable.set(id, transport) })
        await server().connect(transport)
      }
      if (!transport) { res.writeHead(400).end(); return }
      await transport.handleRequest(req, res, msg)
      return
    }
    const transport = streamable.get(sid)
    if (!transport) { res.writeHead(400).end(); return }
    await transport.handleRequest(req, res)
    return
  }
  if (url.pathname === '/sse' && req.method === 'GET') {
    const transport = new SSEServerTransport('/messages', res)
    sse.set(transport.sessionId, transport)
    res.on('close', () => sse.delete(transport.sessionId))
    await server().connect(transport)
    return
  }
  if (url.pathname === '/messages' && req.method === 'POST') {
    const transport = sse.get(url.searchParams.get('sessionId'))
    if (!transport) { res.writeHead(404).end(); return }
    await transport.handlePostMessage(req, res, await body(req))
    return
  }
  res.writeHead(404).end()
})
app.listen(0, '127.0.0.1', () => process.send({ port: app.address().port }))
process.on('SIGINT', () => process.exit(0))
