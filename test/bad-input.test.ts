import t from 'tap'
import { AUTH, SseClient, post, request, startApp } from './helper.js'

const GOOD = { type: 'list_tools', request_id: 'r1', data: {} }

t.test('authorization', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const cases: Array<[string, Record<string, string>]> = [
    ['no header', {}],
    ['wrong token', { authorization: 'Bearer nope' }],
    ['wrong scheme', { authorization: 'Basic c2VjcmV0X3Rva2Vu' }],
    ['bare token', { authorization: 'secret_token' }],
    ['empty bearer', { authorization: 'Bearer ' }],
    ['oversized', { authorization: `Bearer ${'x'.repeat(9000)}` }]
  ]
  for (const [what, headers] of cases) {
    for (const [method, path, body] of [['GET', '/events?session_id=s1', undefined], ['POST', '/message?session_id=s1', GOOD]] as const) {
      const res = await request(method, srv.url + path, { headers, body })
      t.equal(res.status, 401, `${what}: ${method} ${path} → 401`)
      t.match(res.headers['content-type'], /application\/json/)
      t.equal(res.json().code, what === 'no header' ? 'unauthorized' : 'invalid_token')
      t.match(res.headers['www-authenticate'], /^Bearer /, `${what}: WWW-Authenticate`)
    }
  }
  // Auth runs before body validation: an anonymous bad body is 401, not 400.
  const anon = await request('POST', `${srv.url}/message?session_id=s1`, { body: '{not json' })
  t.equal(anon.status, 401)
})

t.test('session_id', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const bad = ['', 'a b', 'a/b', 'ü', 'x'.repeat(129), 'a%00b', 'a?b', '<script>']
  for (const id of [undefined, ...bad]) {
    const qs = id === undefined ? '' : `?session_id=${encodeURIComponent(id)}`
    const ev = await request('GET', `${srv.url}/events${qs}`, { headers: AUTH })
    t.equal(ev.status, 400, `GET /events session_id=${JSON.stringify(id)} → 400`)
    t.match(ev.json().message, /session_id/)
    const msg = await post(srv.url, `/message${qs}`, GOOD)
    t.equal(msg.status, 400, `POST /message session_id=${JSON.stringify(id)} → 400`)
    t.match(msg.json().message, /session_id/)
  }
  const longest = await post(srv.url, `/message?session_id=${'a'.repeat(128)}`, GOOD)
  t.equal(longest.status, 202, '128 characters is allowed')
  const symbols = await post(srv.url, '/message?session_id=A-z.0_9~', GOOD)
  t.equal(symbols.status, 202, 'unreserved characters are allowed')
})

t.test('message bodies', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const path = '/message?session_id=bodies'
  const cases: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{"type":', /JSON/i],
    ['an array', [GOOD], /body must be object/],
    ['a string', '"list_tools"', /body must be object/],
    ['null', 'null', /body/],
    ['wrong type', { ...GOOD, type: 'delete_everything' }, /body\/type/],
    ['missing type', { request_id: 'r', data: {} }, /'type'/],
    ['missing request_id', { type: 'list_tools', data: {} }, /'request_id'/],
    ['empty request_id', { ...GOOD, request_id: '' }, /body\/request_id/],
    ['numeric data', { ...GOOD, data: 5 }, /body\/data/],
    ['call_tool without name', { type: 'call_tool', request_id: 'r', data: {} }, /data\/name/],
    ['call_tool with numeric name', { type: 'call_tool', request_id: 'r', data: { name: 7 } }, /data\/name/]
  ]
  for (const [what, body, message] of cases) {
    const res = await post(srv.url, path, body)
    t.equal(res.status, 400, `${what} → 400`)
    t.equal(res.json().code, 'invalid_request', what)
    t.match(res.json().message, message, `${what}: the message names the problem`)
  }
  const empty = await request('POST', srv.url + path, { headers: { ...AUTH, 'content-type': 'application/json' }, body: '' })
  t.equal(empty.status, 400, 'empty body → 400')

  const big = await post(srv.url, path, { ...GOOD, data: { pad: 'x'.repeat(70 * 1024) } })
  t.equal(big.status, 413, 'over 64 KiB → 413')
  t.equal(big.json().statusCode, 413)

  const xml = await request('POST', srv.url + path, { headers: { ...AUTH, 'content-type': 'application/xml' }, body: '<a/>' })
  t.equal(xml.status, 415, 'a content type we cannot read → 415')

  const form = await request('POST', srv.url + path, { headers: { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' }, body: JSON.stringify(GOOD) })
  t.equal(form.status, 202, 'curl -d without a content type is read as JSON')

  // Nothing above broke the session: a good request is still answered on the stream.
  const sse = await SseClient.open(`${srv.url}/events?session_id=bodies`)
  t.teardown(() => sse.close())
  await post(srv.url, path, { type: 'call_tool', request_id: 'ok', data: { name: 'get_time' } })
  t.equal((await sse.frameFor('ok')).type, 'tool_result')
})

t.test('unknown routes are JSON 404s', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const res = await request('GET', `${srv.url}/nope`, { headers: AUTH })
  t.equal(res.status, 404)
  t.equal(res.json().code, 'not_found')
})
