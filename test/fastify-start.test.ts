import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { freePort, request } from './helper.js'

const ROOT = new URL('..', import.meta.url)

async function documentedLine (): Promise<string[]> {
  const readme = await readFile(new URL('README.md', ROOT), 'utf8')
  const m = /`(fastify start [^`]+)`/.exec(readme)
  if (!m) throw new Error('README documents no fastify start line')
  return m[1].split(/\s+/).slice(1)
}

async function run (args: string[]) {
  const port = await freePort()
  const argv = args.map((a, i) => (args[i - 1] === '-p' ? String(port) : a))
  const child = spawn(process.execPath, ['node_modules/fastify-cli/cli.js', ...argv], {
    cwd: ROOT, env: { ...process.env, LOCAL_BEARER_TOKEN: 'start-line-token', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d })
  child.stderr.on('data', (d: Buffer) => { output += d })
  const base = `http://127.0.0.1:${port}`
  // Waits while the server's process lives (a loaded machine starts it slowly), not a fixed count.
  const started = Date.now()
  while (child.exitCode === null && Date.now() - started < 60_000) {
    if ((await request('GET', `${base}/health`).then((r) => r.status, () => 0)) === 200) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  // The log is written in batches (lib/logging/log-destination.ts), so a line can arrive up to LOG_FLUSH_MS late.
  async function logged (pattern: RegExp): Promise<string> {
    const since = Date.now()
    while (!pattern.test(output) && child.exitCode === null && Date.now() - since < 30_000) await new Promise((resolve) => setTimeout(resolve, 50))
    return output
  }
  return { base, port, output: () => output, logged, stop: () => child.kill('SIGKILL') }
}

async function useTicket (base: string): Promise<string> {
  const auth = { authorization: 'Bearer start-line-token' }
  const { ticket } = (await request('POST', `${base}/events/ticket?session_id=logs`, { headers: auth })).json()
  const res = await fetch(`${base}/events?session_id=logs&ticket=${ticket}`)
  await res.body?.cancel()
  return ticket
}

t.test("the README's fastify start line listens only on loopback and keeps tickets out of the logs", async (t) => {
  const args = await documentedLine()
  t.same(args.slice(0, 1), ['start'])
  t.ok(args.includes('-a') && args[args.indexOf('-a') + 1] === '127.0.0.1', 'the line names the loopback address')
  const srv = await run(args)
  t.teardown(srv.stop)
  const ticket = await useTicket(srv.base)
  await srv.logged(/ticket=\[redacted\]/)
  const listening = [...srv.output().matchAll(/Server listening at (http[^"\s]+)/g)].map((m) => m[1].replace(/"$/, ''))
  t.same(listening, [`http://127.0.0.1:${srv.port}`], 'it listens on 127.0.0.1 only')
  t.notMatch(srv.output(), new RegExp(ticket), 'the ticket is not logged')
  t.match(srv.output(), /ticket=\[redacted\]/)
})

t.test('without -o the plugin still redacts tickets', async (t) => {
  const srv = await run(['start', '-l', 'info', '-a', '127.0.0.1', '-p', '0', 'dist/app.js'])
  t.teardown(srv.stop)
  const ticket = await useTicket(srv.base)
  await srv.logged(/ticket=\[redacted\]/)
  t.match(srv.output(), /incoming request/, 'requests are logged')
  t.notMatch(srv.output(), new RegExp(ticket), 'but never the ticket')
})
