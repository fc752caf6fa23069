import t from 'tap'
import { AUTH, SseClient, post, request, startApp, startWithTwoPrincipals } from './helper.js'

const ticketFor = async (url: string, session: string, headers: Record<string, string> = AUTH) =>
  (await request('POST', `${url}/events/ticket?session_id=${session}`, { headers }))

t.test('a ticket opens one stream of its session, once', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const res = await ticketFor(srv.url, 'browser')
  t.equal(res.status, 200)
  const { ticket, expires_in: expiresIn, session_id: sessionId } = res.json()
  t.match(ticket, /^[A-Za-z0-9_-]{43}$/, '256 random bits, URL-safe')
  t.ok(expiresIn > 0 && expiresIn <= 60, 'short-lived')
  t.equal(sessionId, 'browser')

  const sse = await SseClient.open(`${srv.url}/events?session_id=browser&ticket=${ticket}`, {})
  t.teardown(() => sse.close())
  t.equal(sse.status, 200, 'no Authorization header needed')
  await post(srv.url, '/message?session_id=browser', { type: 'call_tool', request_id: 'b1', data: { name: 'get_time' } })
  t.equal((await sse.frameFor('b1')).type, 'tool_result')

  const reuse = await request('GET', `${srv.url}/events?session_id=browser&ticket=${ticket}`)
  t.equal(reuse.status, 401, 'a used ticket is refused')
  t.equal(reuse.json().code, 'invalid_ticket')

  const other = (await ticketFor(srv.url, 'browser')).json().ticket
  const wrong = await request('GET', `${srv.url}/events?session_id=elsewhere&ticket=${other}`)
  t.equal(wrong.status, 401, 'a ticket for another session is refused')
  const afterWrong = await SseClient.open(`${srv.url}/events?session_id=browser&ticket=${other}`, {})
  t.equal(afterWrong.status, 200, 'while it still opens its own session once')
  afterWrong.close()

  t.equal((await request('GET', `${srv.url}/events?session_id=browser&ticket=made-up`)).status, 401, 'a guessed ticket is refused')
  t.equal((await request('POST', `${srv.url}/events/ticket?session_id=browser`)).status, 401, 'tickets need a token')
  t.equal((await request('POST', `${srv.url}/events/ticket?session_id=bad%20id`, { headers: AUTH })).status, 400)
})

t.test('tickets expire', async (t) => {
  const srv = await startApp({ auth: { ticketTtlSeconds: 1 } })
  t.teardown(srv.close)
  const { ticket } = (await ticketFor(srv.url, 'late')).json()
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const res = await request('GET', `${srv.url}/events?session_id=late&ticket=${ticket}`)
  t.equal(res.status, 401)
  t.match(res.json().message, /expired/)
})

t.test("a ticket cannot open another principal's session", async (t) => {
  const { srv, alice, bob } = await startWithTwoPrincipals()
  t.teardown(srv.close)
  t.equal((await ticketFor(srv.url, 'alices', alice)).status, 200)
  const stolen = await ticketFor(srv.url, 'alices', bob)
  t.equal(stolen.status, 403, "bob cannot get a ticket for alice's session")
  const bobs = (await ticketFor(srv.url, 'bobs', bob)).json().ticket
  t.equal((await request('GET', `${srv.url}/events?session_id=alices&ticket=${bobs}`)).status, 401, "bob's ticket does not open alice's session")
})
