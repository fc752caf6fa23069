// Peer: FastMCP serving get_time, as its README shows.
// Followed: README "Quickstart" (new FastMCP + addTool), "Tools Without Parameters" (no parameters
// property), "Structured Tool Output" (outputSchema z.object({ time: z.string() }) and explicit
// content + structuredContent), and "Remote Server Options > HTTP Streaming"
// (server.start({ transportType: 'httpStream', httpStream: { port } })).
// Dialects: Streamable HTTP on /mcp, STATEFUL (the README's default; "Stateless Mode" is opt-in),
// plus HTTP+SSE (2024-11-05) on /sse + /messages, which httpStream starts too ("This also starts an
// SSE server on /sse"). No 2026-07-28: the README says FastMCP implements 2025-11-25 and earlier only.
// Port: FastMCP's API does not expose the bound address, so with port 0 the real port cannot be
// read back; we take a free ephemeral port from the OS first and hand that to httpStream.port.
// Prints {"port"} over IPC once listening.
import net from 'node:net'
import { FastMCP } from 'fastmcp'
import { z } from 'zod'

const port = await new Promise((resolve, reject) => {
  const probe = net.createServer().once('error', reject)
  probe.listen(0, '127.0.0.1', () => { const { port } = probe.address(); probe.close(() => resolve(port)) })
})

const server = new FastMCP({ name: 'fastmcp-peer', version: '1.0.0' })

server.addTool({
  name: 'get_time',
  description: 'Returns the current server time',
  outputSchema: z.object({ time: z.string() }),
  execute: async () => {
    const time = new Date().toISOString()
    return { content: [{ type: 'text', text: JSON.stringify({ time }) }], structuredContent: { time } }
  }
})

await server.start({ transportType: 'httpStream', httpStream: { port, host: '127.0.0.1' } })
process.send({ port })
process.on('SIGINT', () => process.exit(0))
