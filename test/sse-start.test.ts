import t from 'tap'
import Fastify from 'fastify'
import { startSse } from '../lib/http/sse.js'
import { SseClient } from './helper.js'

t.test('a stream drops its request\'s parsed headers, and they come back whole when read again', async (t) => {
  const app = Fastify()
  let seen: { before: unknown, dropped: boolean, after: unknown, kept: unknown } | undefined
  app.get('/s', async (request, reply) => {
    const before = request.headers['x-probe']
    const raw = startSse(reply)
    // Node's own cache of the parsed object, which an idle stream would otherwise keep.
    const cache = Object.getOwnPropertySymbols(raw.req).find((s) => s.description === 'kHeaders')!
    const dropped = (raw.req as unknown as Record<symbol, unknown>)[cache] === null
    // Node rebuilds the object from rawHeaders on the next read: nothing that reads it loses a header.
    seen = { before, dropped, after: raw.req.headers['x-probe'], kept: raw.req.headers.accept }
    raw.write('data: {}\n\n')
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  t.teardown(() => app.close())
  const client = await SseClient.open(`http://127.0.0.1:${port}/s`, { 'x-probe': 'kept' })
  t.teardown(() => client.close())
  t.equal(client.status, 200)
  await client.until((c) => c.events.length > 0)
  t.same(seen, { before: 'kept', dropped: true, after: 'kept', kept: 'text/event-stream' })
})
