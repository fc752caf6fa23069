import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { SseClient, freePort, post } from './helper.js'

t.test('SIGTERM: in-flight calls finish, streams get a final comment, exit code 0', async (t) => {
  if (!existsSync(new URL('../dist/app.js', import.meta.url))) {
    t.fail('dist/app.js is missing: run `npm run build` first (npm test does)')
    return
  }
  // A slow upstream gives fetch_url a call that is still running when the signal arrives.
  const upstream = http.createServer((_req, res) => setTimeout(() => res.end('late but here'), 800))
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { upstream.closeAllConnections(); upstream.close() })
  const upstreamHost = `127.0.0.1:${(upstream.address() as net.AddressInfo).port}`

  const port = await freePort()
  const child = spawn(process.execPath, ['node_modules/fastify-cli/cli.js', 'start', '-l', 'warn', '-p', String(port),
    '-a', '127.0.0.1', '-g', '15000', 'dist/app.js'], {
    cwd: new URL('..', import.meta.url),
    env: { ...process.env, FETCH_URL_ALLOWED_HOSTS: upstreamHost, DEMO_PAGE: 'false' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d })
  child.stderr.on('data', (d: Buffer) => { output += d })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })

  const base = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20_000
  let sse: SseClient | undefined
  while (!sse && Date.now() < deadline) {
    try {
      sse = await SseClient.open(`${base}/events?session_id=bye`)
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  if (!sse) { t.fail(`server did not start: ${output}`); return }
  t.equal(sse.status, 200)
  const accepted = await post(base, '/message?session_id=bye', { type: 'call_tool', request_id: 'slow', data: { name: 'fetch_url', url: `http://${upstreamHost}/` } })
  t.equal(accepted.status, 202)
  await new Promise((resolve) => setTimeout(resolve, 100))
  child.kill('SIGTERM')

  await sse.until((c) => c.ended, 15_000, 'the stream to end')
  const frame = sse.events.map((e) => e.json()).find((f) => f.request_id === 'slow')
  t.equal(frame?.type, 'tool_result', 'the in-flight call finished and was delivered before the stream closed')
  t.equal(frame?.data.content, 'late but here')
  t.ok(sse.comments.some((c) => /shutting down/.test(c)), 'the stream got a final comment')
  t.equal(await exited, 0, `exit code 0 (output: ${output.slice(0, 500)})`)
})
