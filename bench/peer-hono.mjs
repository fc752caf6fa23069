// Peer: @hono/mcp (StreamableHTTPTransport on Hono, over the official SDK v1 McpServer) serving
// get_time, as its README shows. Followed: README "Streamable HTTP Transport" verbatim: ONE McpServer,
// ONE `new StreamableHTTPTransport()` with no options, `app.all('/mcp', ...)` connecting once and
// calling transport.handleRequest(c). Served on Node with @hono/node-server `serve` (the README
// only does `export default app`). The tool is registered with SDK v1 registerTool, no outputSchema.
// Dialects: Streamable HTTP 2025-era on /mcp only, STATELESS (no sessionIdGenerator, so no
// mcp-session-id), one shared transport for all clients. No HTTP+SSE, no 2026-07-28.
// Prints {"port"} over IPC once listening.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPTransport } from '@hono/mcp'
import { Hono } from 'hono'
import { serve } from '@hono/node-server'

const app = new Hono()

const mcpServer = new McpServer({ name: 'hono-peer', version: '1.0.0' })
mcpServer.registerTool('get_time', { description: 'Returns the current server time' }, async () => {
  const time = new Date().toISOString()
  return { content: [{ type: 'text', text: JSON.stringify({ time }) }], structuredContent: { time } }
})

const transport = new StreamableHTTPTransport()

app.all('/mcp', async (c) => {
  if (!mcpServer.isConnected()) {
    await mcpServer.connect(transport)
  }
  return transport.handleRequest(c)
})

serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => process.send({ port: info.port }))
process.on('SIGINT', () => process.exit(0))
