import t from 'tap'
import { AUTH, SseClient, request, startApp, type Running } from './helper.js'
import { everythingOptions, rpc, sleepTool } from './mcp-features.js'
import { eachStore } from './stores.js'

const BOTH = { accept: 'application/json, text/event-stream' }

const sleep = sleepTool

/** A 2025-11-25 session on /mcp, with helpers that speak raw HTTP as a client would. */
async function session (srv: Running, capabilities: Record<string, unknown> = {}) {
  const init = await request('POST', `${srv.url}/mcp`, {
    headers: { ...AUTH, ...BOTH },
    body: rpc('initialize', { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 'raw', version: '1' } })
  })
  const headers = { ...AUTH, 'mcp-session-id': init.headers['mcp-session-id'] as string, 'mcp-protocol-version': '2025-11-25' }
  return {
    init,
    headers,
    post: (body: unknown, extra: Record<string, string> = {}) => request('POST', `${srv.url}/mcp`, { headers: { ...headers, ...BOTH, ...extra }, body }),
    stream: (body: unknown) => SseClient.request('POST', `${srv.url}/mcp`, { ...headers, ...BOTH }, JSON.stringify(body)),
    get: (extra: Record<string, string> = {}) => SseClient.open(`${srv.url}/mcp`, { ...headers, accept: 'text/event-stream', ...extra })
  }
}

/** The JSON-RPC answer in a POST's body, whether it came as JSON or as an SSE stream. */
function answerOf (res: { headers: Record<string, unknown>, text: string }): any {
  if (!String(res.headers['content-type']).startsWith('text/event-stream')) return JSON.parse(res.text)
  const data = res.text.split('\n').filter((l) => l.startsWith('data: ') && l.length > 6).map((l) => JSON.parse(l.slice(6)))
  return data.find((m) => 'result' in m || 'error' in m)
}

const messages = (c: SseClient) => c.events.filter((e) => e.data !== '').map((e) => e.json())

eachStore('fast answers are JSON; slow or chatty ones become a stream with a priming event', async (t, start) => {
  const srv = await start(everythingOptions({ tools: [...everythingOptions().tools!, sleep], mcp: { jsonWindowMs: 300 } }))
  t.teardown(srv.close)
  const s = await session(srv)
  t.equal(s.init.json().result.protocolVersion, '2025-11-25')
  const fast = await s.post(rpc('tools/call', { name: 'test_simple_text' }))
  t.match(fast.headers['content-type'], /^application\/json/, 'a quick answer with both Accept types is plain JSON')
  t.equal(fast.json().result.content[0].text, 'This is a simple text response for testing.')

  const slow = await s.stream(rpc('tools/call', { name: 'sleep', arguments: { ms: 600 } }, 2))
  t.teardown(() => slow.close())
  await slow.until((c) => c.ended, 5000, 'the slow stream to end')
  t.match(slow.headers['content-type'], /^text\/event-stream/, 'a slow answer becomes a stream')
  t.equal(slow.events[0].data, '', 'it opens with a priming event')
  t.match(slow.events[0].id, /^[0-9a-f]{12}\./, 'whose id names the stream')
  t.same(messages(slow).map((m) => m.id), [2], 'then the response, and the stream ends')

  const chatty = await s.stream(rpc('tools/call', { name: 'test_tool_with_progress', _meta: { progressToken: 'p' } }, 3))
  t.teardown(() => chatty.close())
  await chatty.until((c) => c.ended, 5000, 'the progress stream to end')
  t.same(messages(chatty).map((m) => m.method ?? m.id), ['notifications/progress', 'notifications/progress', 'notifications/progress', 3],
    'progress first, on the request stream, then its response')
})

eachStore('a response travels on its POST alone; the GET stream carries only what belongs to no request', async (t, start) => {
  const srv = await start(everythingOptions({ tools: [...everythingOptions().tools!, sleep], mcp: { jsonWindowMs: 100 } }))
  t.teardown(srv.close)
  const s = await session(srv)
  const standalone = await s.get()
  t.teardown(() => standalone.close())
  const slow = await s.stream(rpc('tools/call', { name: 'sleep', arguments: { ms: 300 } }, 'slow'))
  t.teardown(() => slow.close())
  t.equal((await s.post(rpc('tools/call', { name: 'test_trigger_tool_change' }, 'trigger'))).json().id, 'trigger')
  await slow.until((c) => c.ended, 5000, 'the slow response')
  await standalone.until((c) => c.events.length >= 1, 5000, 'the list change on the GET stream')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(messages(standalone).map((m) => m.method ?? `response ${m.id}`), ['notifications/tools/list_changed'],
    'no response ever reaches the GET stream')
  t.same(messages(slow).map((m) => m.id), ['slow'])
})

eachStore('Last-Event-ID resumes only the stream it came from', async (t, start) => {
  const srv = await start({ tools: [sleep], mcp: { jsonWindowMs: 0 }, sse: { reconnectGraceMs: 30_000 } })
  t.teardown(srv.close)
  const s = await session(srv)
  const a = await s.stream(rpc('tools/call', { name: 'sleep', arguments: { ms: 300 } }, 'a'))
  const b = await s.stream(rpc('tools/call', { name: 'sleep', arguments: { ms: 100 } }, 'b'))
  await a.until((c) => c.events.length >= 1, 5000, 'a priming event')
  const primed = a.events[0].id!
  a.close() // a breaks before its answer
  await b.until((c) => c.ended, 5000, 'b finished')
  const resumed = await s.get({ 'last-event-id': primed })
  t.teardown(() => resumed.close())
  await resumed.until((c) => c.ended, 5000, 'the resumed stream to deliver and end')
  t.same(messages(resumed).map((m) => m.id), ['a'], "a's answer, never b's")
  t.ok(resumed.events.every((e) => e.id?.startsWith(primed.split('.')[0])), 'ids of the same stream')
  const standalone = await s.get({ 'last-event-id': '0' })
  t.teardown(() => standalone.close())
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.same(messages(standalone), [], 'a main-stream id replays no request stream')
})

t.test('notifications/cancelled on /mcp: the request gets no response and its stream ends', async (t) => {
  const srv = await startApp({ tools: [sleep], mcp: { jsonWindowMs: 0 } })
  t.teardown(srv.close)
  const s = await session(srv)
  const slow = await s.stream(rpc('tools/call', { name: 'sleep', arguments: { ms: 5000 } }, 7))
  t.teardown(() => slow.close())
  await slow.until((c) => c.events.length >= 1, 5000, 'priming')
  t.equal((await s.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7 } })).status, 202)
  await slow.until((c) => c.ended, 3000, 'the stream to end early')
  t.same(messages(slow), [], 'no response for a cancelled request')
})

t.test('initialize on /mcp never negotiates 2024-11-05', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const res = await request('POST', `${srv.url}/mcp`, {
    headers: { ...AUTH, ...BOTH },
    body: rpc('initialize', { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'old', version: '1' } })
  })
  t.equal(res.json().result.protocolVersion, '2025-11-25', 'the newest version /mcp serves')
})

eachStore('server requests: answered across POSTs, refused when never sent, checked against their schema', async (t, start) => {
  const srv = await start(everythingOptions({ mcp: { jsonWindowMs: 0 } }))
  t.teardown(srv.close)
  const s = await session(srv, { elicitation: {} })
  const call = await s.stream(rpc('tools/call', { name: 'test_elicitation' }, 'e1'))
  t.teardown(() => call.close())
  await call.until((c) => messages(c).some((m) => m.method === 'elicitation/create'), 5000, 'the elicitation request')
  const ask = messages(call).find((m) => m.method === 'elicitation/create')
  t.equal(ask.params.mode, 'form')
  t.equal(ask.params.requestedSchema.type, 'object')
  const bad = await s.post({ jsonrpc: '2.0', id: ask.id, result: { action: 'accept', content: { username: 7, email: 'e@x' } } })
  t.equal(bad.status, 202, 'the answer is accepted…')
  await call.until((c) => c.ended, 5000, 'the call to finish')
  const answer = messages(call).find((m) => m.id === 'e1')
  t.equal(answer.error.code, -32602, '…and the call fails with -32602 because it breaks the requested schema')
  t.match(answer.error.message, /content.username must be a string/)
  const again = await s.post({ jsonrpc: '2.0', id: ask.id, result: { action: 'cancel' } })
  t.equal(again.status, 400, 'a second answer to the same request → 400')
  t.equal(again.json().error.code, -32600)
  const forged = await s.post({ jsonrpc: '2.0', id: 'srv-forged', result: {} })
  t.equal(forged.status, 400, 'an answer to a request never sent → 400')

  const noCaps = await session(srv)
  const refused = answerOf(await noCaps.post(rpc('tools/call', { name: 'test_sampling' }, 'x')))
  t.equal(refused.error.code, -32021, 'a client without sampling is never asked')
  t.same(refused.error.data, { requiredCapabilities: { sampling: {} } })
})

eachStore('bad input gets the spec error and nothing leaks to another session', async (t, start) => {
  const srv = await start(everythingOptions())
  t.teardown(srv.close)
  const s = await session(srv)
  const other = await session(srv)
  const code = async (method: string, params: Record<string, unknown>) => (await s.post(rpc(method, params))).json().error?.code
  t.equal(await code('resources/read', { uri: 'test://nope' }), -32002, 'unknown resource URI')
  t.equal(await code('resources/read', { uri: 'test://template/1/other' }), -32002, 'a template that does not match')
  t.equal(await code('resources/subscribe', { uri: 'test://nope' }), -32002)
  t.equal(await code('prompts/get', { name: 'test_prompt_with_arguments', arguments: { arg1: 1 } }), -32602, 'prompt arguments failing their schema')
  t.equal(await code('prompts/get', { name: 'nope' }), -32602, 'unknown prompt')
  t.equal(await code('completion/complete', { ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' }, argument: { name: 'zz', value: '' } }), -32602,
    'a completion for an unknown argument')
  t.equal(await code('completion/complete', { ref: { type: 'ref/nothing' }, argument: { name: 'a', value: '' } }), -32602)
  t.equal(await code('logging/setLevel', { level: 'loud' }), -32602, 'unknown log level')
  t.equal(await code('tools/call', { name: 'x'.repeat(60_000) }), -32602, 'unknown tool')
  const long = (await s.post(rpc('tools/call', { name: 'x'.repeat(60_000) }))).json().error.message
  t.ok(long.length < 200, 'an unknown name is cut, not echoed whole')
  t.equal((await other.post(rpc('ping'))).json().result !== undefined, true, 'the other session is unaffected')
})
