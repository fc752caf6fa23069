import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ElicitationCompleteNotificationSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { Type } from '@sinclair/typebox'
import { defineTool, UrlElicitationRequiredError } from '../index.js'
import { AUTH } from './helper.js'
import { until } from './mcp-features.js'
import { eachStore, type Test } from './stores.js'
import { taskClient } from './tasks-client.js'

const linked: string[] = []
const tools = [
  defineTool({
    name: 'link_account',
    description: 'Sends the user to link an account, out of band',
    input: Type.Object({ to: Type.Optional(Type.String()) }),
    handler: async ({ to }, ctx) => {
      const answer = await ctx.elicit({ mode: 'url', url: to ?? 'https://accounts.example.com/link?state=s1', message: 'Link your account' }, { key: 'link' })
      if (answer.elicitationId) linked.push(answer.elicitationId)
      return `user said ${answer.action}`
    }
  }),
  defineTool({
    name: 'needs_link',
    description: 'Cannot go on before the user linked an account',
    input: Type.Object({}),
    handler: () => { throw new UrlElicitationRequiredError([{ url: 'https://accounts.example.com/link?state=s2', message: 'Link first', elicitationId: 'link-s2' }]) }
  })
]

async function connect (t: Test, url: string, capabilities: Record<string, unknown>) {
  const asked: any[] = []
  const completed: string[] = []
  const client = new Client({ name: 'url-mode', version: '1.0.0' }, { capabilities })
  client.setRequestHandler(ElicitRequestSchema, async (req) => { asked.push(req.params); return { action: 'accept' } })
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => { completed.push(n.params.elicitationId) })
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: AUTH } }))
  t.teardown(() => client.close())
  return { client, asked, completed }
}

eachStore('URL-mode elicitation, 2025-11-25: the user is sent to a URL, the session hears when it is done', async (t, start) => {
  const srv = await start({ tools, builtinTools: false })
  t.teardown(srv.close)
  const { client, asked, completed } = await connect(t, srv.url, { elicitation: { url: {} } })
  const result = await client.callTool({ name: 'link_account', arguments: {} }) as { content: Array<{ text: string }> }
  t.equal(result.content[0].text, 'user said accept')
  t.equal(asked[0].mode, 'url')
  t.equal(asked[0].url, 'https://accounts.example.com/link?state=s1')
  t.ok(asked[0].elicitationId, 'the request names the interaction')
  t.equal(linked.at(-1), asked[0].elicitationId, 'the handler learns the same id')
  // The notification belongs to no request: it travels on the session's GET stream, which the
  // SDK opened after initialize.
  t.equal(await srv.app.dataPulse.elicitations.complete(asked[0].elicitationId), true, 'completing a known interaction')
  await until(() => completed.length > 0, 'notifications/elicitation/complete')
  t.same(completed, [asked[0].elicitationId])
  t.equal(await srv.app.dataPulse.elicitations.complete(asked[0].elicitationId), false, 'completing it again does nothing')
  t.equal(await srv.app.dataPulse.elicitations.complete('never-asked'), false, 'nor does an unknown id')

  await t.rejects(client.callTool({ name: 'needs_link', arguments: {} }), { code: -32042 }, 'URLElicitationRequiredError is -32042')
  const raw = await fetch(`${srv.url}/mcp`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': (client.transport as StreamableHTTPClientTransport).sessionId!, 'mcp-protocol-version': '2025-11-25' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'needs_link', arguments: {} } })
  })
  t.same((await raw.json()).error.data.elicitations, [{ mode: 'url', message: 'Link first', url: 'https://accounts.example.com/link?state=s2', elicitationId: 'link-s2' }], 'listing what to complete')

  const before = asked.length
  const plainHttp = await client.callTool({ name: 'link_account', arguments: { to: 'http://example.com/link' } }) as { isError?: boolean, content: Array<{ text: string }> }
  t.equal(plainHttp.isError, true, 'a plain-http URL off loopback fails the call…')
  t.match(plainHttp.content[0].text, /internal error/, '…as the server’s own mistake')
  t.equal(asked.length, before, 'and the client is never asked')
})

eachStore('URL-mode elicitation needs the client to declare it', async (t, start) => {
  const srv = await start({ tools, builtinTools: false })
  t.teardown(srv.close)
  const { client, asked } = await connect(t, srv.url, { elicitation: { form: {} } })
  await t.rejects(client.callTool({ name: 'link_account', arguments: {} }), { code: -32021 }, 'form-only client: -32021')
  t.equal(asked.length, 0)
})

eachStore('URL-mode elicitation, 2026-07-28: an input_required round, correlated by requestState', async (t, start) => {
  const srv = await start({ tools, builtinTools: false })
  t.teardown(srv.close)
  const client = taskClient(srv.url, { declare: false })
  const capable = async (params: Record<string, unknown>, capabilities: Record<string, unknown>) => (await fetch(`${srv.url}/mcp`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'link_account' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'link_account', arguments: {}, ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': capabilities } } })
  })).json()
  const round = (await capable({}, { elicitation: { url: {} } })).result
  t.equal(round.resultType, 'input_required')
  t.same(round.inputRequests.link, { method: 'elicitation/create', params: { mode: 'url', message: 'Link your account', url: 'https://accounts.example.com/link?state=s1' } }, 'no elicitationId: requestState correlates')
  const done = (await capable({ inputResponses: { link: { action: 'accept' } }, requestState: round.requestState }, { elicitation: { url: {} } })).result
  t.equal(done.content[0].text, 'user said accept')
  t.equal((await client.call('tools/call', { name: 'link_account', arguments: {} })).error?.code, -32021, 'a client with form mode only: -32021')
})
