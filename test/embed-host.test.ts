import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import fastifyJwt from '@fastify/jwt'
import { Type } from '@sinclair/typebox'
import Fastify from 'fastify'
import t from 'tap'
import dataPulse, { defineResource, defineTool } from '../index.js'
import { request, startApp } from './helper.js'
import { until } from './mcp-features.js'
import { redisUnavailable, startRedis } from './redis-server.js'
import type { Test } from './stores.js'

const whoami = defineTool({
  name: 'whoami',
  description: 'says who calls',
  input: Type.Object({}),
  handler: (_args, ctx) => ({ principal: ctx.principal.id, scopes: ctx.principal.scopes })
})

/** A host app with its own @fastify/jwt, handing DataPulseSSE its principals. */
async function jwtHost (extra: Record<string, unknown> = {}) {
  let sign!: (claims: Record<string, unknown>) => string
  const srv = await startApp({}, async (host) => {
    await host.register(fastifyJwt, { secret: 'host-secret-that-is-long-enough-0123456789' })
    sign = (claims) => host.jwt.sign(claims)
    await host.register(dataPulse, {
      tools: [whoami],
      resources: [defineResource({ uri: 'host://status', name: 'status', read: () => 'green' })],
      auth: {
        authenticate: async (request) => {
          try {
            const user = await request.jwtVerify<{ sub: string, scope?: string }>()
            return { id: user.sub, scopes: user.scope?.split(' ') ?? [] }
          } catch {
            return null
          }
        }
      },
      ...extra
    })
  })
  t.teardown(srv.close)
  return { srv, sign }
}

async function sdkClient (t: Test, url: string, token: string) {
  const client = new Client({ name: 'host-test', version: '1' })
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  t.teardown(() => client.close())
  return client
}

t.test("the host's authenticate hook decides who calls, with the official SDK client", async (t) => {
  const { srv, sign } = await jwtHost()
  const alice = await sdkClient(t, srv.url, sign({ sub: 'alice', scope: 'mcp:read' }))
  t.ok((await alice.listTools()).tools.some((tool) => tool.name === 'whoami'), 'tools/list')
  const result = await alice.callTool({ name: 'whoami', arguments: {} }) as { structuredContent?: unknown }
  t.same(result.structuredContent, { principal: 'host:alice', scopes: ['mcp:read'] }, "tools/call runs as the host's principal")

  const none = await request('POST', `${srv.url}/mcp`, { headers: { accept: 'application/json' }, body: { jsonrpc: '2.0', id: 1, method: 'ping' } })
  t.equal(none.status, 401, 'the hook returned null: 401')
  t.match(none.headers['www-authenticate'], /^Bearer /)

  // bob may not use alice's session.
  const init = await request('POST', `${srv.url}/mcp`, {
    headers: { authorization: `Bearer ${sign({ sub: 'alice' })}`, accept: 'application/json, text/event-stream' },
    body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'a', version: '1' } } }
  })
  const stolen = await request('POST', `${srv.url}/mcp`, {
    headers: { authorization: `Bearer ${sign({ sub: 'bob' })}`, accept: 'application/json, text/event-stream', 'mcp-session-id': String(init.headers['mcp-session-id']), 'mcp-protocol-version': '2025-11-25' },
    body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }
  })
  t.ok(stolen.status === 403 || stolen.status === 404, `another principal cannot use the session (${stolen.status})`)
})

t.test('app.dataPulse: tools added at run time reach connected clients; notifyUpdated reaches subscribers', async (t) => {
  const { srv, sign } = await jwtHost()
  const client = await sdkClient(t, srv.url, sign({ sub: 'carol' }))
  const notes: string[] = []
  client.setNotificationHandler((await import('@modelcontextprotocol/sdk/types.js')).ToolListChangedNotificationSchema, () => { notes.push('tools') })
  client.setNotificationHandler((await import('@modelcontextprotocol/sdk/types.js')).ResourceUpdatedNotificationSchema, (n) => { notes.push(n.params.uri) })
  t.same(client.getServerCapabilities()?.tools, { listChanged: true })
  await client.subscribeResource({ uri: 'host://status' })

  srv.app.dataPulse.tools.add(defineTool({ name: 'late', description: 'added later', input: Type.Object({}), handler: () => 'here now' }))
  await until(() => notes.includes('tools'), 'notifications/tools/list_changed')
  t.ok((await client.listTools()).tools.some((tool) => tool.name === 'late'), 'the new tool is listed')
  t.same((await client.callTool({ name: 'late', arguments: {} }) as { content: unknown }).content, [{ type: 'text', text: 'here now' }], 'and callable')

  await srv.app.dataPulse.resources.notifyUpdated('host://status')
  await until(() => notes.includes('host://status'), 'notifications/resources/updated')
  t.equal(srv.app.dataPulse.tools.remove('late'), true)
  t.equal(srv.app.dataPulse.tools.remove('late'), false, 'removing twice says there was nothing')
  await until(() => notes.filter((n) => n === 'tools').length === 2, 'a second list_changed')
  t.notOk((await client.listTools()).tools.some((tool) => tool.name === 'late'), 'the tool is gone')
})

t.test("the host's environment is not ours unless it says so; typos and duplicate handles fail register", async (t) => {
  const saved = { REDIS_URL: process.env.REDIS_URL, LOCAL_BEARER_TOKEN: process.env.LOCAL_BEARER_TOKEN }
  process.env.REDIS_URL = 'redis://127.0.0.1:1'
  process.env.LOCAL_BEARER_TOKEN = 'the-hosts-own-token'
  t.teardown(() => { for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v } })
  const plain = Fastify({ logger: false })
  t.teardown(() => plain.close())
  await plain.register(dataPulse, { auth: { bearerToken: 'embedded-token' } })
  const ok = await plain.inject({ method: 'POST', url: '/message?session_id=e', headers: { authorization: 'Bearer embedded-token' }, payload: { type: 'list_tools', request_id: 'r' } })
  t.equal(ok.statusCode, 202, "REDIS_URL and LOCAL_BEARER_TOKEN in the host's env change nothing")

  const withEnv = Fastify({ logger: false })
  withEnv.register(dataPulse, { env: true })
  await t.rejects(withEnv.ready(), /REDIS_URL/, 'env: true reads them')
  await withEnv.close().catch(() => {})

  const typo = Fastify({ logger: false })
  typo.register(dataPulse, { sesions: { ttlSeconds: 5 } } as never)
  await t.rejects(typo.ready(), /unknown option "sesions"/, 'a typo is named')
  await typo.close().catch(() => {})

  const twice = Fastify({ logger: false })
  twice.register(dataPulse, { prefix: '/a', auth: { bearerToken: 'x-token' } })
  twice.register(dataPulse, { prefix: '/b', auth: { bearerToken: 'x-token' } })
  await t.rejects(twice.ready(), /app\.dataPulse already exists/, 'a second registration needs its own handle name')
  await twice.close().catch(() => {})

  const two = Fastify({ logger: false })
  t.teardown(() => two.close())
  await two.register(dataPulse, { prefix: '/a', auth: { bearerToken: 'x-token' } })
  await two.register(dataPulse, { prefix: '/c', handle: 'second', auth: { bearerToken: 'x-token' } })
  two.dataPulse.tools.add(defineTool({ name: 'only_a', description: 'a', input: Type.Object({}), handler: () => 'a' }))
  const second = (two as unknown as { second: typeof two.dataPulse }).second
  t.notOk(second.tools.names().includes('only_a'), 'each registration has its own handle and registry')
  t.ok(two.dataPulse.tools.names().includes('only_a'))
})

const skip = redisUnavailable()
t.test('two instances on Redis: notifyUpdated on A reaches a subscriber on B', { skip: skip ?? false }, async (t) => {
  const redis = await startRedis()
  t.teardown(redis.dispose)
  const sessions = { redisUrl: redis.url, redisKeyPrefix: 'embed:' }
  const resources = [defineResource({ uri: 'host://shared', name: 'shared', read: () => 'v1' })]
  const a = await startApp({ sessions, resources })
  const b = await startApp({ sessions, resources })
  t.teardown(async () => { await a.close(); await b.close() })
  const client = await sdkClient(t, b.url, 'secret_token')
  const updated: string[] = []
  client.setNotificationHandler((await import('@modelcontextprotocol/sdk/types.js')).ResourceUpdatedNotificationSchema, (n) => { updated.push(n.params.uri) })
  await client.subscribeResource({ uri: 'host://shared' })
  await a.app.dataPulse.resources.notifyUpdated('host://shared')
  await until(() => updated.includes('host://shared'), 'the update on B')
  t.pass('delivered across instances')
})

t.test('one piece: our auth in front of a host route, our session store alone', async (t) => {
  const { authPlugin, sessionsPlugin, resolveConfig } = await import('../index.js')
  const config = resolveConfig({ auth: { bearerToken: 'piece-token' } })
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(authPlugin, { auth: config.auth })
  await app.register(sessionsPlugin, { sessions: config.sessions })
  app.get('/private', { onRequest: app.auth.authenticate }, async (request) => {
    await app.sessions.open('s1', request.principal!.id)
    return { who: request.principal!.id, sessions: (await app.sessions.stats()).sessions }
  })
  t.equal((await app.inject({ url: '/private' })).statusCode, 401, 'no token: 401')
  const ok = await app.inject({ url: '/private', headers: { authorization: 'Bearer piece-token' } })
  t.same(ok.json(), { who: 'local', sessions: 1 })
})
