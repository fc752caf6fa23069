// Peer: the official SDK v2 (@modelcontextprotocol/server) createMcpHandler on Fastify, serving
// get_time in both eras as its docs show (2026-07-28, and 2025-era stateless fallback).
// Prints {"port"} over IPC once listening.
import Fastify from 'fastify'
import { McpServer, createMcpHandler } from '@modelcontextprotocol/server'

const handler = createMcpHandler(() => {
  const s = new McpServer({ name: 'sdk-v2-peer', version: '2.0.0' })
  s.registerTool('get_time', { description: 'Returns the current server time' }, async () => {
    const time = new Date().toISOString()
    return { content: [{ type: 'text', text: JSON.stringify({ time }) }], structuredContent: { time } }
  })
  return s
})

const app = Fastify({ logger: false })
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body))
app.all('/mcp', async (request, reply) => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string') headers.set(name, value)
  const response = await handler.fetch(new Request(`http://127.0.0.1${request.url}`, {
    method: request.method, headers, body: request.method === 'POST' ? request.body : undefined
  }))
  reply.code(response.status)
  response.headers.forEach((value, name) => reply.header(name, value))
  return reply.send(response.body ? Buffer.from(await response.arrayBuffer()) : undefined)
})
await app.listen({ port: 0, host: '127.0.0.1' })
process.send({ port: app.server.address().port })
process.on('SIGINT', () => process.exit(0))
