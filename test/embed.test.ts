import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import t from 'tap'
import dataPulse, { defineTool } from '../index.js'
import { SseClient, post, request, startApp } from './helper.js'

const run = promisify(execFile)

t.test('embedded under a prefix beside the host app, with a custom tool', async (t) => {
  const echo = defineTool({
    name: 'echo',
    description: 'echoes',
    input: Type.Object({ text: Type.String({ maxLength: 20 }) }),
    handler: ({ text }, ctx) => ({ text, principal: ctx.principal.id, session: ctx.sessionId })
  })
  const srv = await startApp({}, async (host) => {
    host.get('/', async () => ({ host: true }))
    host.setNotFoundHandler((_req, reply) => { reply.code(404).send('host 404') })
    await host.register(dataPulse, { prefix: '/dp', env: false, tools: [echo] })
    t.equal(host.hasDecorator('sessions'), false, 'no decorator leaks to the host')
    t.equal(host.hasDecorator('tools'), false)
    t.equal(host.hasRequestDecorator('principal'), false)
  })
  t.teardown(srv.close)

  t.same((await request('GET', `${srv.url}/`)).json(), { host: true }, 'host routes untouched')
  t.equal((await request('GET', `${srv.url}/elsewhere`)).text, 'host 404', "host's own 404 handler")
  t.equal((await request('GET', `${srv.url}/events?session_id=x`)).text, 'host 404', 'nothing mounted outside the prefix')

  const sse = await SseClient.open(`${srv.url}/dp/events?session_id=embedded`)
  t.teardown(() => sse.close())
  t.equal(sse.status, 200)
  await post(srv.url, '/dp/message?session_id=embedded', { type: 'call_tool', request_id: 'e', data: { name: 'echo', text: 'hi' } })
  t.same((await sse.frameFor('e')).data, { text: 'hi', principal: 'local', session: 'embedded' })
  await post(srv.url, '/dp/message?session_id=embedded', { type: 'call_tool', request_id: 'long', data: { name: 'echo', text: 'x'.repeat(50) } })
  t.equal((await sse.frameFor('long')).code, 'invalid_arguments', "the custom tool's schema is enforced")

  const mcp = await SseClient.open(`${srv.url}/dp/sse`)
  t.teardown(() => mcp.close())
  await mcp.until((c) => c.events.length > 0)
  t.match(mcp.events[0].data, /^\/dp\/messages\?sessionId=/, 'the MCP endpoint event carries the prefix')
})

t.test('bad options and bad tools fail registration with a clear message', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ sessions: { ttlSeconds: -1 } }, /sessions\.ttlSeconds/],
    [{ tools: [{ name: 'no spaces allowed', description: 'x', input: Type.Object({}), handler: () => 1 }] }, /tool name/],
    [{ tools: [{ name: 'plain', description: 'x', input: Type.String(), handler: () => 1 }] }, /Type\.Object/],
    [{ tools: [{ name: 'get_time', description: 'dup', input: Type.Object({}), handler: () => 1 }] }, /registered twice/]
  ]
  for (const [opts, message] of cases) {
    const app = Fastify({ logger: false })
    app.register(dataPulse, { env: false, ...(opts as object) })
    await t.rejects(app.ready(), message)
    await app.close().catch(() => {})
  }
})

t.test('the example app runs as documented', async (t) => {
  const { build } = await import('../examples/custom-tool.mjs') as { build: (o: { token: string }) => Promise<ReturnType<typeof Fastify>> }
  const app = await build({ token: 'example_token' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const auth = { authorization: 'Bearer example_token' }
  const sse = await SseClient.open(`${url}/datapulse/events?session_id=dice`, auth)
  t.teardown(() => sse.close())
  await post(url, '/datapulse/message?session_id=dice', { type: 'call_tool', request_id: 'd', data: { name: 'roll_dice', sides: 20 } }, auth)
  const roll = (await sse.frameFor('d')).data
  t.equal(roll.sides, 20)
  t.ok(roll.roll >= 1 && roll.roll <= 20)
  await post(url, '/datapulse/message?session_id=dice', { type: 'call_tool', request_id: 'dflt', data: { name: 'roll_dice' } }, auth)
  t.equal((await sse.frameFor('dflt')).data.sides, 6, 'schema defaults apply')
})

t.test('defineTool infers argument types (tsc on a fixture with @ts-expect-error lines)', async (t) => {
  const tsc = new URL('../node_modules/typescript/bin/tsc', import.meta.url).pathname
  const project = new URL('./types/tsconfig.json', import.meta.url).pathname
  const result = await run(process.execPath, [tsc, '-p', project]).then(() => 'ok', (err: { stdout: string }) => err.stdout)
  t.equal(result, 'ok', 'the fixture type-checks, and every expected error is an error')
})
