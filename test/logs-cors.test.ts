import { Writable } from 'node:stream'
import Fastify from 'fastify'
import t from 'tap'
import dataPulse, { options } from '../app.js'
import { AUTH, SseClient, post, request, startApp } from './helper.js'

t.test('logs carry session and request ids and never a token or a ticket', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const logger = { ...(options.logger as object), level: 'info', stream }
  const srv = await startApp({}, async (host) => {
    await host.register(dataPulse, { env: false, auth: { bearerToken: 'tok_5up3r_s3cret' } })
  }, { logger })
  t.teardown(srv.close)
  const auth = { authorization: 'Bearer tok_5up3r_s3cret' }
  const { ticket } = (await request('POST', `${srv.url}/events/ticket?session_id=logged`, { headers: auth })).json()
  const sse = await SseClient.open(`${srv.url}/events?session_id=logged&ticket=${ticket}`, {})
  await post(srv.url, '/message?session_id=logged', { type: 'call_tool', request_id: 'boom', data: { name: 'fetch_url', url: 'http://127.0.0.1:1/' } }, auth)
  await sse.frameFor('boom')
  sse.close()
  await request('GET', `${srv.url}/events?session_id=logged`, { headers: { authorization: 'Bearer wrong_tok_9999' } })
  await request('GET', `${srv.url}/events?session_id=logged&%74icket=ENCODED_T1CKET&TICKET=UPPER_T1CKET`)
  await request('GET', `${srv.url}/events?session_id=L1;ticket=SEMI_T1CKET`)
  await request('GET', `${srv.url}/events;ticket=PATH_T1CKET`)
  const all = lines.join('')
  t.ok(lines.length > 5, `${lines.length} log lines`)
  t.notMatch(all, /tok_5up3r_s3cret/, 'the Bearer token never appears')
  t.notMatch(all, /wrong_tok_9999/, 'nor a rejected one')
  t.notMatch(all, new RegExp(ticket), 'nor the ticket')
  t.notMatch(all, /ENCODED_T1CKET|UPPER_T1CKET/, 'nor a ticket whose name is percent-encoded or upper-case')
  t.notMatch(all, /SEMI_T1CKET|PATH_T1CKET/, 'nor a ticket after a `;`')
  t.match(all, /ticket=\[redacted\]/, 'the ticket is redacted in the URL')
  const toolLine = lines.map((l) => JSON.parse(l)).find((l) => /tool call failed/.test(l.msg) || l.requestId === 'boom')
  t.ok(toolLine, 'a line about the failing call exists')
  t.equal(toolLine?.sessionId, 'logged', 'it carries the session id')
  t.equal(toolLine?.requestId, 'boom', 'and the request id')
})

t.test('CORS: off by default, on for listed origins', async (t) => {
  const off = await startApp()
  t.teardown(off.close)
  const plain = await request('OPTIONS', `${off.url}/message?session_id=c`, { headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } })
  t.equal(plain.headers['access-control-allow-origin'], undefined, 'no CORS headers unless configured')

  const on = await startApp({ http: { corsOrigins: ['https://app.example.com'] } })
  t.teardown(on.close)
  const preflight = await request('OPTIONS', `${on.url}/message?session_id=c`, {
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' }
  })
  t.equal(preflight.status, 204)
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com')
  t.match(preflight.headers['access-control-allow-headers'], /authorization/)
  const other = await request('OPTIONS', `${on.url}/message?session_id=c`, { headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
  t.not(other.headers['access-control-allow-origin'], 'https://evil.example', 'an unlisted origin is not allowed')

  const actual = await request('POST', `${on.url}/message?session_id=c`, { headers: { ...AUTH, origin: 'https://app.example.com' }, body: { type: 'list_tools', request_id: 'r' } })
  t.equal(actual.status, 202)
  t.equal(actual.headers['access-control-allow-origin'], 'https://app.example.com')
  const stream = await SseClient.open(`${on.url}/events?session_id=c`, { ...AUTH, origin: 'https://app.example.com' })
  t.teardown(() => stream.close())
  t.equal(stream.headers['access-control-allow-origin'], 'https://app.example.com', 'headers survive the hijacked SSE reply')
})
