import { Writable } from 'node:stream'
import { Type } from '@sinclair/typebox'
import t from 'tap'
import dataPulse, { defineTool, ToolError } from '../index.js'
import { AUTH, SseClient, post, request, startApp } from './helper.js'

const leaky = defineTool({
  name: 'leaky',
  description: 'fails the way a database driver does',
  input: Type.Object({}),
  handler: async () => { throw new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2') }
})
const quota = defineTool({
  name: 'quota',
  description: 'refuses with a message meant for the client',
  input: Type.Object({}),
  // As a JavaScript tool writes it: one argument, the message.
  handler: async () => { throw new (ToolError as unknown as new (m: string) => Error)('quota exceeded') }
})

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {}
}

t.test('an unexpected tool error reaches the client as an id; the log has the text under that id', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const srv = await startApp({}, async (host) => {
    await host.register(dataPulse, { env: false, tools: [leaky, quota] })
  }, { logger: { level: 'info', stream } })
  t.teardown(srv.close)

  const sse = await SseClient.open(`${srv.url}/events?session_id=errs`, AUTH)
  t.teardown(() => sse.close())
  await post(srv.url, '/message?session_id=errs', { type: 'call_tool', request_id: 'l1', data: { name: 'leaky' } })
  await post(srv.url, '/message?session_id=errs', { type: 'call_tool', request_id: 'q1', data: { name: 'quota' } })
  const envelopeLeak = await sse.frameFor('l1')
  const envelopeQuota = await sse.frameFor('q1')

  const call = (name: string) => request('POST', `${srv.url}/mcp`, {
    headers: { ...AUTH, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name },
    body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {}, _meta: META } }
  })
  const rawLeak = await call('leaky')
  t.equal(rawLeak.status, 200, rawLeak.text)
  const modernLeak = rawLeak.json().result
  const modernQuota = (await call('quota')).json().result

  for (const [door, text] of [['envelope', envelopeLeak.error], ['2026-07-28', modernLeak.content[0].text]]) {
    t.notMatch(text, /hunter2|10\.0\.0\.5|ECONNREFUSED/, `${door}: nothing of the error's text`)
    t.match(text, /internal error \(error id [0-9a-f-]{36}\)/, `${door}: a generic message with an error id`)
  }
  t.equal(envelopeLeak.type, 'error')
  t.equal(modernLeak.isError, true, 'still a tool result the model sees (isError)')
  t.match(envelopeQuota.error, /quota exceeded/, 'a one-argument ToolError carries its message (envelope)')
  t.equal(envelopeQuota.code, 'tool_failed')
  t.match(modernQuota.content[0].text, /quota exceeded/, 'and on MCP')

  const id = /error id ([0-9a-f-]{36})/.exec(envelopeLeak.error)?.[1]
  const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.errorId === id)
  t.equal(logged.length, 1, 'one log line carries that id')
  t.match(logged[0]?.err?.message, /hunter2/, 'with the full error, for the operator')
})

t.test('ToolError keeps both signatures', async (t) => {
  t.equal(new ToolError('quota exceeded').message, 'quota exceeded')
  t.equal(new ToolError('quota exceeded').code, 'tool_failed')
  t.equal(new ToolError('invalid_arguments', 'bad date').code, 'invalid_arguments')
  t.equal(new ToolError('invalid_arguments', 'bad date').message, 'bad date')
  const cause = new Error('root')
  t.equal(new ToolError('wrapped', { cause }).cause, cause)
})
