// Peer: mcp-handler (Vercel, 2.x on MCP SDK v2 @modelcontextprotocol/server) serving get_time, as
// its README shows. Followed: README "Quick Start (Next.js)" (createMcpHandler((server) =>
// server.registerTool(...)))  and "Framework Compatibility" ("Hono routes using c.req.raw"; Node's
// IncomingMessage needs a Web Request adapter), so it is mounted on a Hono route served by
// @hono/node-server. No inputSchema (no arguments); structuredContent needs no outputSchema in SDK v2.
// Dialects on /mcp, per README "Protocol Support": 2026-07-28 natively (stateless) and 2025-era
// Streamable HTTP through the SDK's STATELESS legacy fallback (no mcp-session-id; GET/DELETE 405).
// No HTTP+SSE (2024-11-05): "removed in 2.x".
// Prints {"port"} over IPC once listening.
import { Hono } from 'hono'
import { serve } from '@hono/node-server'
import { createMcpHandler } from 'mcp-handler'

const handler = createMcpHandler((server) => {
  server.registerTool(
    'get_time',
    { title: 'Get Time', description: 'Returns the current server time' },
    async () => {
      const time = new Date().toISOString()
      return { content: [{ type: 'text', text: JSON.stringify({ time }) }], structuredContent: { time } }
    }
  )
})

const app = new Hono()
app.all('/mcp', (c) => handler(c.req.raw))

serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => process.send({ port: info.port }))
process.on('SIGINT', () => process.exit(0))
