import type { Readable } from 'node:stream'
import azureFunctions from '@azure/functions'
import t from 'tap'
import { createAzureHandler } from '../azure/functions.js'

const { HttpRequest } = azureFunctions
const AUTH = { authorization: 'Bearer azure-test-token' }
const BASE = 'http://localhost:7071/api'

t.test('Azure Functions adapter: JSON routes and a streamed /events', async (t) => {
  const { handler, close } = createAzureHandler({ env: false, auth: { bearerToken: 'azure-test-token' } })
  t.teardown(close)

  const health = await handler(new HttpRequest({ method: 'GET', url: `${BASE}/health` }))
  t.equal(health.status, 200)
  let text = ''
  for await (const chunk of health.body as Readable) text += chunk
  t.equal(JSON.parse(text).status, 'ok')

  const stream = await handler(new HttpRequest({ method: 'GET', url: `${BASE}/events?session_id=azure`, headers: AUTH }))
  t.equal(stream.status, 200)
  t.match((stream.headers as Record<string, string>)['content-type'], /text\/event-stream/)

  const posted = await handler(new HttpRequest({
    method: 'POST',
    url: `${BASE}/message?session_id=azure`,
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: { string: JSON.stringify({ type: 'call_tool', request_id: 'az-1', data: { name: 'get_time' } }) }
  }))
  t.equal(posted.status, 202)

  // Read the streamed body as the Functions host would relay it.
  let received = ''
  const body = stream.body as Readable
  for await (const chunk of body) {
    received += chunk
    if (received.includes('az-1')) break
  }
  body.destroy()
  const frame = received.split('\n').find((l) => l.startsWith('data: ') && l.includes('az-1'))!
  t.equal(JSON.parse(frame.slice(6)).type, 'tool_result', 'the result arrived on the streamed response')

  const denied = await handler(new HttpRequest({ method: 'GET', url: `${BASE}/events?session_id=azure` }))
  t.equal(denied.status, 401, 'auth applies through the adapter')
  for await (const chunk of denied.body as Readable) void chunk
})

t.test('Azure: the default token and anonymous loopback are refused, and the reason reaches the Functions log', async (t) => {
  for (const [auth, reason] of [
    [{}, /LOCAL_BEARER_TOKEN \(auth\.bearerToken\) is the well-known default/],
    [{ bearerToken: 'azure-test-token', anonymous: true }, /AUTH_ANONYMOUS_LOOPBACK/]
  ] as const) {
    const { handler, close } = createAzureHandler({ env: false, auth })
    t.teardown(close)
    const logged: string[] = []
    const context = { error: (message: string) => { logged.push(message) } }
    const res = await handler(new HttpRequest({ method: 'GET', url: `${BASE}/events?session_id=azure` }), context as never)
    t.equal(res.status, 500, 'nothing is served')
    t.notMatch(JSON.stringify(res.jsonBody), reason, 'the caller is not told the configuration')
    t.match(logged.join('\n'), reason, 'the Functions log is')
  }
})
