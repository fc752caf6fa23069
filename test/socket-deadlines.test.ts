import net from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import dataPulse, { options } from '../app.js'
import { AUTH } from './helper.js'

/** Connects, runs `drive` on the socket, and resolves with the seconds until the server closed it. */
function closedAfter (port: number, drive: (s: net.Socket) => void): Promise<{ seconds: number, received: string }> {
  return new Promise((resolve) => {
    const started = Date.now()
    let received = ''
    const s = net.connect(port, '127.0.0.1', () => drive(s))
    s.setEncoding('utf8')
    s.on('data', (d: string) => { received += d })
    s.on('error', () => {})
    s.on('close', () => resolve({ seconds: (Date.now() - started) / 1000, received }))
  })
}

/** Writes one byte a second until the socket closes. */
function trickle (s: net.Socket, head: string, byte = 'x'): void {
  s.write(head)
  const timer = setInterval(() => { if (!s.destroyed) s.write(byte) }, 1000)
  s.on('close', () => clearInterval(timer))
}

t.test('socket deadlines hold as documented (±2 s), with the shipped server options', async (t) => {
  const app = Fastify({ ...options, logger: false })
  await app.register(dataPulse, { env: false, http: { connectionLimitExempt: [] } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const port = (app.server.address() as net.AddressInfo).port
  const post = (auth: boolean) => `POST /message?session_id=slow HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth ? `Authorization: ${AUTH.authorization}\r\n` : ''}Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{`
  const [silent, headers, unauthorized, body, idle] = await Promise.all([
    closedAfter(port, () => {}),
    closedAfter(port, (s) => trickle(s, 'GET /health HTTP/1.1\r\nX-Slow: ', 'a')),
    closedAfter(port, (s) => trickle(s, post(false), ' ')),
    closedAfter(port, (s) => trickle(s, post(true), ' ')),
    closedAfter(port, (s) => s.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'))
  ])
  const near = (got: number, want: number, what: string) => t.ok(Math.abs(got - want) <= 2, `${what}: closed after ${got.toFixed(1)} s (documented ${want} s)`)
  near(silent.seconds, 10, 'a socket that sends nothing')
  near(headers.seconds, 10, 'headers trickled a byte a second')
  t.match(unauthorized.received, /^HTTP\/1\.1 401/, 'a body without a token is answered 401 at once')
  t.match(unauthorized.received, /connection: close/i, 'telling the client the connection ends')
  t.ok(unauthorized.seconds < 2, `and the socket does not wait for the rest of the body (${unauthorized.seconds.toFixed(1)} s)`)
  near(body.seconds, 15, "an authorized body trickled a byte a second")
  t.match(idle.received, /^HTTP\/1\.1 200/, 'a keep-alive request is answered')
  near(idle.seconds, 10, 'and its idle socket closed')
})
