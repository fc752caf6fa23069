// Peer: tmcp (tmcp + @tmcp/transport-http + @tmcp/adapter-valibot) serving get_time, as its READMEs show.
// Followed: tmcp README "Quick Start" (McpServer + adapter + server.tool; the adapter is required to
// produce structured output, per "API Reference > Constructor" IMPORTANT note; structuredContent
// returned without an outputSchema as in "Advanced Examples > Progress Reporting"), and
// @tmcp/transport-http README "Usage > Basic Setup" (HttpTransport + node:http +
// @remix-run/node-fetch-server createRequestListener, path set explicitly per its NOTE).
// Dialects on /mcp: Streamable HTTP 2025-era, STATEFUL (the transport's default "initialization-based
// sessions", in-memory session managers, mcp-session-id) AND the sessionless 2026-07-28 per-request
// revision, both from the same HttpTransport. No HTTP+SSE (2024-11-05): that is a separate package
// (@tmcp/transport-sse), not in this peer's install list.
// Prints {"port"} over IPC once listening.
import * as http from 'node:http'
import { McpServer } from 'tmcp'
import { ValibotJsonSchemaAdapter } from '@tmcp/adapter-valibot'
import { HttpTransport } from '@tmcp/transport-http'
import { createRequestListener } from '@remix-run/node-fetch-server'

const server = new McpServer(
  { name: 'tmcp-peer', version: '1.0.0', description: 'tmcp benchmark peer' },
  { adapter: new ValibotJsonSchemaAdapter(), capabilities: { tools: { listChanged: true } } }
)

server.tool(
  { name: 'get_time', description: 'Returns the current server time' },
  async () => {
    const time = new Date().toISOString()
    return { content: [{ type: 'text', text: JSON.stringify({ time }) }], structuredContent: { time } }
  }
)

const transport = new HttpTransport(server, { path: '/mcp' })

const httpServer = http.createServer(
  createRequestListener(async (request) => {
    const response = await transport.respond(request)
    return response ?? new Response(null, { status: 404 })
  })
)
httpServer.listen(0, '127.0.0.1', () => process.send({ port: httpServer.address().port }))
process.on('SIGINT', () => process.exit(0))
