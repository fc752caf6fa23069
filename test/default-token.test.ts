import { spawn } from 'node:child_process'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import t from 'tap'
import dataPulse from '../app.js'
import { configFromEnv } from '../config.js'
import { AUTH, freePort, request, startApp } from './helper.js'
import { makeKeyPair } from './jwt-keys.js'

const ROOT = new URL('..', import.meta.url)

t.test('configuring JWT turns the local token off unless ALLOW_LOCAL_BEARER=true', async (t) => {
  const pair = makeKeyPair()
  const jwtOnly = await startApp({ auth: { jwtKey: pair.publicPem } })
  t.teardown(jwtOnly.close)
  t.equal((await request('GET', `${jwtOnly.url}/sse`, { headers: AUTH })).status, 401, 'the default token is refused once JWT is configured')
  const both = await startApp({ auth: { jwtKey: pair.publicPem, allowLocalBearer: true } })
  t.teardown(both.close)
  const res = await request('POST', `${both.url}/message?session_id=s`, { headers: AUTH, body: { type: 'list_tools', request_id: 'r' } })
  t.equal(res.status, 202, 'explicitly allowed, it works beside JWT')
})

t.test('the default token is announced loudly, and refused in production', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const app = Fastify({ logger: { level: 'warn', stream } })
  await app.register(dataPulse, { env: false })
  await app.ready()
  await app.close()
  t.ok(lines.some((l) => l.includes('LOCAL_BEARER_TOKEN is the well-known default')), 'a warning at start')

  const own = Fastify({ logger: { level: 'warn', stream } })
  lines.length = 0
  await own.register(dataPulse, { env: false, auth: { bearerToken: 'a-real-token' } })
  await own.ready()
  await own.close()
  t.notOk(lines.some((l) => l.includes('well-known default')), 'no warning with a token of your own')

  const previous = process.env.NODE_ENV
  process.env.NODE_ENV = 'production'
  t.teardown(() => { process.env.NODE_ENV = previous })
  const prod = Fastify({ logger: false })
  await t.rejects(prod.register(dataPulse, { env: false }).ready(), /LOCAL_BEARER_TOKEN .*NODE_ENV=production/, 'an embedding app without a token fails in production')
})

t.test('an empty LOCAL_BEARER_TOKEN is a configuration error', async (t) => {
  t.throws(() => configFromEnv({ LOCAL_BEARER_TOKEN: '' }), /LOCAL_BEARER_TOKEN is set but empty/)
  t.throws(() => configFromEnv({ LOCAL_BEARER_TOKEN: '   ' }), /LOCAL_BEARER_TOKEN/)
})

async function start (env: Record<string, string>, host: string) {
  const port = await freePort()
  const child = spawn(process.execPath, ['node_modules/fastify-cli/cli.js', 'start', '-o', '-l', 'info', '-p', String(port), '-a', host, 'dist/app.js'],
    { cwd: ROOT, env: { ...process.env, ...env, DEMO_PAGE: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d })
  child.stderr.on('data', (d: Buffer) => { output += d })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { port, child, exited, output: () => output }
}

t.test('listening beyond loopback with the default token refuses to serve', async (t) => {
  const unsafe = await start({ LOCAL_BEARER_TOKEN: 'secret_token' }, '0.0.0.0')
  t.teardown(() => unsafe.child.kill('SIGKILL'))
  const code = await Promise.race([unsafe.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 15_000))])
  t.not(code, 0, 'the process ends with a non-zero code')
  t.not(code, 'still running')
  t.match(unsafe.output(), /refusing to serve on 0\.0\.0\.0 with the default LOCAL_BEARER_TOKEN/)

  const safe = await start({ LOCAL_BEARER_TOKEN: 'a-token-of-my-own' }, '0.0.0.0')
  t.teardown(() => safe.child.kill('SIGKILL'))
  let health = 0
  const started = Date.now()
  while (health !== 200 && safe.child.exitCode === null && Date.now() - started < 60_000) {
    health = await request('GET', `http://127.0.0.1:${safe.port}/health`).then((r) => r.status, () => 0)
    if (health !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(health, 200, 'with a token of its own it serves on every interface')
})
