// Profiles the server during the envelope round-trip scenario: node bench/profile.mjs [dir]
// Writes a .cpuprofile to the directory and prints the functions with the most self time.
import { fork } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.argv[2] ?? 'bench/results/profile'
const server = fork(new URL('./server.mjs', import.meta.url), ['app'], { execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
const { port } = await new Promise((resolve) => server.once('message', resolve))
const client = fork(new URL('./client.mjs', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
await new Promise((resolve) => client.once('message', resolve))
const reply = await new Promise((resolve) => { client.once('message', resolve); client.send({ scenario: 'envelope', params: { base: `http://127.0.0.1:${port}`, S: 50, K: 200 } }) })
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
