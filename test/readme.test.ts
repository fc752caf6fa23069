import { execFile, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import { promisify } from 'node:util'
import t from 'tap'
import { startApp } from './helper.js'

const run = promisify(execFile)

/** The shell commands of the README's "Quick tour", joined across backslash continuations. */
async function readmeCurls (): Promise<string[]> {
  const text = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const tour = text.slice(text.indexOf('## Quick tour'), text.indexOf('\n## ', text.indexOf('## Quick tour') + 1))
  const commands: string[] = []
  for (const block of tour.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = block[1].replace(/\\\n\s*/g, ' ')
    for (const line of joined.split('\n')) if (line.startsWith('curl ')) commands.push(line.trim())
  }
  return commands
}

/** Runs a README command against the test server instead of localhost:8000, without a shell. */
function argv (command: string, base: string, fetchTarget: string): string[] {
  const args: string[] = []
  for (const m of command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) args.push(m[1] ?? m[2] ?? m[3])
  return args.slice(1).map((a) => a.replace('http://localhost:8000', base).replace('https://example.com', fetchTarget))
}

t.test('every curl example in the README works as printed', async (t) => {
  const commands = await readmeCurls()
  t.ok(commands.length >= 4, `found ${commands.length} curl commands`)

  // fetch_url's example target, replaced by a local page the test allows explicitly.
  const page = http.createServer((_req, res) => res.end('<!doctype html><title>Example Domain</title>'))
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve))
  t.teardown(() => page.close())
  const pageHost = `127.0.0.1:${(page.address() as { port: number }).port}`

  const srv = await startApp({ fetchUrl: { allowedHosts: [pageHost] } })
  t.teardown(srv.close)

  const [stream, ...posts] = commands
  t.match(stream, /^curl -N .*\/events\?session_id=abc123/, 'the first command opens the stream')
  const curl = spawn('curl', argv(stream, srv.url, `http://${pageHost}`), { stdio: ['ignore', 'pipe', 'ignore'] })
  t.teardown(() => curl.kill())
  let output = ''
  curl.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  await new Promise((resolve) => setTimeout(resolve, 300))

  for (const command of posts) {
    const { stdout } = await run('curl', ['-s', ...argv(command, srv.url, `http://${pageHost}`)])
    const ack = JSON.parse(stdout)
    t.equal(ack.status, 'accepted', `${ack.request_id} accepted`)
  }
  const deadline = Date.now() + 10_000
  const frames = () => output.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)))
  while (frames().length < posts.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  const byId = new Map(frames().map((f) => [f.request_id, f]))
  t.equal(byId.get('req-1')?.type, 'list_tools')
  t.equal(byId.get('req-2')?.type, 'tool_result')
  t.match(byId.get('req-2')?.data.time, /Z$/)
  t.equal(byId.get('req-3')?.type, 'tool_result')
  t.equal(byId.get('req-3')?.data.status, 200)
  t.match(byId.get('req-3')?.data.content, /Example Domain/)
})
