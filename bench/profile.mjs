// Profiles the server as `npm start` runs it during the envelope round-trip scenario:
//   node bench/profile.mjs [dir] [scenario]
// Writes a .cpuprofile to the directory and prints the functions with the most self time.
import { fork, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'

const dir = process.argv[2] ?? 'bench/results/profile'
const scenario = process.argv[3] ?? 'envelope'
const root = new URL('..', import.meta.url).pathname
const probe = net.createServer()
await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve))
const port = probe.address().port
await new Promise((resolve) => probe.close(resolve))
const server = spawn(process.execPath, ['--no-allocation-site-pretenuring', '--cpu-prof', `--cpu-prof-dir=${dir}`, join(root, 'node_modules/fastify-cli/cli.js'), 'start', '-o', '-l', 'info',
  '-p', String(port), '-a', '127.0.0.1', join(root, 'dist/app.js')], {
  cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, MAX_SESSIONS_PER_PRINCIPAL: '1000000', MAX_CONCURRENT_CALLS_PER_SESSION: '64' }
})
for (let i = 0; i < 200; i++) {
  try { await fetch(`http://127.0.0.1:${port}/health`); break } catch { await new Promise((resolve) => setTimeout(resolve, 50)) }
}
const client = fork(new URL('./client.mjs', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
await new Promise((resolve) => client.once('message', resolve))
const reply = await new Promise((resolve) => { client.once('message', resolve); client.send({ scenario, params: { base: `http://127.0.0.1:${port}`, S: 50, K: Number(process.env.K ?? 200) } }) })
console.log('calls', reply.result?.latencies?.length, 'errors', reply.result?.errors)
client.kill()
server.kill('SIGINT')
await new Promise((resolve) => server.once('exit', resolve))
const file = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort().pop()
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'))
const self = new Map()
const dt = profile.timeDeltas
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
profile.samples.forEach((id, i) => {
  const n = byId.get(id)
  const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`
  self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0))
})
const total = [...self.values()].reduce((a, b) => a + b, 0)
for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`)
