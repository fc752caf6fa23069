import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client'
import t from 'tap'
import { AUTH, SseClient, post, request, startApp, type Running } from './helper.js'
import { everythingOptions, text } from './mcp-features.js'
import { nginxUnavailable, startNginx } from './nginx.js'
import { redisUnavailable, startRedis } from './redis-server.js'

const skip = nginxUnavailable() ?? redisUnavailable()
const call = (id: string) => ({ type: 'call_tool', request_id: id, data: { name: 'get_time' } })

/** Three instances on one Redis behind the repo's own nginx config, round robin. */
async function fleet (t: Parameters<NonNullable<Parameters<typeof t.test>[1]>>[0], extra = {}) {
  const redis = await startRedis()
  t.teardown(redis.dispose)
  const sessions = { redisUrl: redis.url, redisKeyPrefix: 'lb:' }
  const instances: Running[] = []
  for (let i = 0; i < 3; i++) instances.push(await startApp(everythingOptions({ builtinTools: true, sessions, ...extra })))
  const lb = await startNginx(instances.map((s) => s.url.replace('http://', '')))
  t.teardown(async () => { await lb.stop(); for (const s of instances) await s.close().catch(() => {}) })
  return { lb, instances }
}

async function openStreams (s: Running): Promise<number> {
  const metrics = await request('GET', `${s.url}/metrics`)
  return Number(/^datapulse_open_streams (\d+)/m.exec(metrics.text)?.[1] ?? 0)
}

t.test('behind nginx: the envelope loses nothing when the instance holding the stream dies', { skip: skip ?? false }, async (t) => {
  const { lb, instances } = await fleet(t)
  const stream = await SseClient.open(`${lb.url}/events?session_id=lb1`)
  for (const id of ['a1', 'a2', 'a3']) t.equal((await post(lb.url, '/message?session_id=lb1', call(id))).status, 202)
  for (const id of ['a1', 'a2', 'a3']) await stream.frameFor(id)
  const holder = (await Promise.all(instances.map(openStreams))).findIndex((n) => n === 1)
  t.ok(holder >= 0, `instance ${holder} holds the stream`)
  await instances[holder].close() // the stream's instance goes away mid-way
  await stream.until((c) => c.ended, 5000, 'the stream to end with its instance')
  for (const id of ['b1', 'b2', 'b3']) t.equal((await post(lb.url, '/message?session_id=lb1', call(id))).status, 202, `${id} lands on a live instance`)
  const last = stream.events[stream.events.length - 1].id!
  const resumed = await SseClient.open(`${lb.url}/events?session_id=lb1`, { ...AUTH, 'last-event-id': last })
  t.teardown(() => resumed.close())
  for (const id of ['b1', 'b2', 'b3']) await resumed.frameFor(id)
  const ids = [...stream.events, ...resumed.events].map((e) => e.json().request_id)
  t.same(ids, ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'], 'every result exactly once, through the balancer')
})

t.test('behind nginx: tickets, the rate limit and both MCP eras span the fleet', { skip: skip ?? false }, async (t) => {
  const { lb } = await fleet(t, { limits: { rateLimitMax: 30, rateLimitWindowMs: 60_000 } })
  // A ticket issued by one instance opens a stream on another (round robin), once.
  const { ticket } = (await request('POST', `${lb.url}/events/ticket?session_id=tk`, { headers: AUTH })).json()
  const viaTicket = await SseClient.open(`${lb.url}/events?session_id=tk&ticket=${ticket}`, {})
  t.equal(viaTicket.status, 200, 'the ticket works on whichever instance the stream reaches')
  viaTicket.close()
  const again = await request('GET', `${lb.url}/events?session_id=tk&ticket=${ticket}`)
  t.equal(again.status, 401, 'and only once, fleet-wide')

  // MCP, 2025 era: one session, requests spread over the instances.
  const v1 = new Client({ name: 'lb-v1', version: '1' })
  await v1.connect(new StreamableHTTPClientTransport(new URL(`${lb.url}/mcp`), { requestInit: { headers: AUTH } }))
  t.equal(text(await v1.callTool({ name: 'test_simple_text', arguments: {} }) as { content: unknown }), 'This is a simple text response for testing.')
  await v1.close()
  // MCP 2026-07-28: stateless, any instance.
  const v2 = new ClientV2({ name: 'lb-v2', version: '2' }, { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } })
  v2.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: 'Lb' } }))
  await v2.connect(new TransportV2(new URL(`${lb.url}/mcp`), { requestInit: { headers: AUTH } }))
  t.equal(text(await v2.callTool({ name: 'test_input_required_result_elicitation', arguments: {} })), 'Hello, Lb!', 'an input_required round across instances')
  await v2.close()

  // The rate limit counts once per principal, whichever instance a request reaches and whichever
  // route it takes: the requests above count too, so 40 more cannot all fit in a budget of 30.
  const statuses: number[] = []
  for (let i = 0; i < 40; i++) statuses.push((await post(lb.url, '/message?session_id=rl', call(`r${i}`))).status)
  t.ok(statuses.filter((s) => s === 429).length >= 10, `the fleet enforces one limit: ${statuses.join(',')}`)
})
