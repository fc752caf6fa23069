// Profiles the server as `npm start` runs it during one scenario of the bench's load client:
//   node bench/profile.mjs [dir] [scenario]          V8's sampler (--cpu-prof): a .cpuprofile
//   node bench/profile.mjs --perf [dir] [scenario]   Linux perf (kernel sampling, needs `perf`)
// Both print where the server's CPU went. --cpu-prof covers the whole process, start-up included;
// --perf records only after a warm-up. Prefer --perf for small costs: V8's sampler over-attributes
// native calls (it put the token digest at ~8 µs per call, perf at 0.3 µs). --perf also records
// call chains and prints the CPU by nearest JavaScript caller (a socket write or a JSON.parse
// charged to the function that asked for it), and keeps `perf script`'s text (call chains with
// JavaScript names) in dir/perf.script.
import { fork, spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnShipped } from './shipped.mjs'

const args = process.argv.slice(2)
const usePerf = args[0] === '--perf'
if (usePerf) args.shift()
const dir = args[0] ?? 'bench/results/profile'
const scenario = args[1] ?? 'envelope'
const K = Number(process.env.K ?? 200)
// Concurrent sessions: S=2000 K=20 profiles the far end of the bench's session curve.
const S = Number(process.env.S ?? 50)
if (usePerf && spawnSync('perf', ['--version']).status !== 0) {
  console.error('--perf needs Linux perf (apt-get install -y linux-perf)')
  process.exit(1)
}
mkdirSync(dir, { recursive: true })
// Interpreted frames get native stack entries too, so perf's call chains reach every JS caller.
// --perf-basic-prof also writes V8's log, by default into the working directory (the checkout).
const profiling = usePerf
  ? ['--perf-basic-prof', '--interpreted-frames-native-stack', `--logfile=${join(dir, 'v8.log')}`, '--no-logfile-per-isolate']
  : ['--cpu-prof', `--cpu-prof-dir=${dir}`]
const { proc: server, base } = await spawnShipped({ nodeFlags: profiling })
const client = fork(new URL('./client.mjs', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
await new Promise((resolve) => client.once('message', resolve))
const load = (k) => new Promise((resolve) => { client.once('message', resolve); client.send({ scenario, params: { base, S, K: k } }) })
// Warm-up (perf only: --cpu-prof records from start-up anyway): the JIT's compiler threads stay
// busy for the first tens of thousands of calls.
if (usePerf) for (let i = 0; i < 3; i++) await load(Math.max(10, Math.round(10_000 / S)))
const perfData = join(dir, 'perf.data')
const recorder = usePerf ? spawn('perf', ['record', '-g', '-F', '2999', '-o', perfData, '-p', String(server.pid)], { stdio: 'ignore' }) : undefined
if (recorder) await new Promise((resolve) => setTimeout(resolve, 300))
const reply = await load(K)
console.log('calls', reply.result?.latencies?.length, 'errors', reply.result?.errors)
if (recorder) {
  recorder.kill('SIGINT')
  await new Promise((resolve) => recorder.once('exit', resolve))
}
client.kill()
server.kill('SIGINT')
await new Promise((resolve) => server.once('exit', resolve))

const show = (rows) => { for (const [k, v] of rows) console.log(`${v.toFixed(1).padStart(5)}%  ${k}`) }
const top = (map, n) => [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)
if (usePerf) {
  const report = spawnSync('perf', ['report', '-i', perfData, '--no-children', '--sort', 'symbol', '-g', 'none', '--stdio'], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout
  const bySymbol = new Map()
  const byKind = new Map()
  for (const line of report.split('\n')) {
    const m = /^\s+([\d.]+)%\s+\[(.)\]\s+(.*?)\s*$/.exec(line)
    if (!m) continue
    const share = Number(m[1])
    // perf pads its columns: a symbol ends before the trailing '-' fields.
    const symbol = m[3].replace(/(\s+-)+$/, '')
    const kind = m[2] === 'k'
      ? 'kernel'
      : symbol.includes('/dist/') ? 'JS: ours'
        : /node_modules\/(fastify|find-my-way|avvio|light-my-request)\//.test(symbol) ? 'JS: Fastify'
          : symbol.includes('node_modules/') ? 'JS: other packages'
            : symbol.startsWith('JS:') ? 'JS: Node' : symbol.startsWith('Builtins_') ? 'V8 builtins' : 'V8, Node and libc native'
    byKind.set(kind, (byKind.get(kind) ?? 0) + share)
    bySymbol.set(symbol, (bySymbol.get(symbol) ?? 0) + share)
  }
  show(top(byKind, 10))
  console.log()
  show(top(bySymbol, 25))
  // Kept beside perf.data with the JavaScript names resolved: the perf map goes with the server.
  const script = spawnSync('perf', ['script', '-i', perfData], { encoding: 'utf8', maxBuffer: 1 << 30 }).stdout
  writeFileSync(join(dir, 'perf.script'), script)
  nearestCaller(script)
  rmSync(`/tmp/perf-${server.pid}.map`, { force: true })
} else {
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
  show(top(self, 25).map(([k, v]) => [k, 100 * v / total]))
}

/**
 * Self time charges a builtin or a native call (JSON.parse, a hash, a socket write) to itself,
 * which hides who asked for it. This charges every sample to its nearest JavaScript frame
 * instead, from perf's call chains: the cost of each JS function including what it called
 * outside JavaScript. A module's top level (`file:1:1`) under load is usually a stale perf map
 * entry: that code was collected and its address reused.
 */
function nearestCaller (script) {
  const byFunction = new Map()
  const byFile = new Map()
  let total = 0
  for (const sample of script.split('\n\n')) {
    const frames = sample.split('\n').slice(1).map((line) => /^\s+[0-9a-f]+\s+(.*?)(\+0x[0-9a-f]+)?\s+\(.*\)$/.exec(line)?.[1]).filter(Boolean)
    if (frames.length === 0) continue
    total++
    const js = frames.find((f) => f.startsWith('JS:'))
    const name = js ? js.replace(/^JS:[*~^+]?/, '').replace(/file:\/\/|\/[^ ]*?\/(node_modules|dist)\//g, (_match, folder) => folder ? `${folder}/` : '') : '(no JS frame: kernel, GC, event loop)'
    byFunction.set(name, (byFunction.get(name) ?? 0) + 1)
    const file = !js ? name : name.split(' ').pop().replace(/:\d+:\d+$/, '').replace(/^node_modules\/((@[^/]+\/)?[^/]+)\/.*/, '$1')
    byFile.set(file, (byFile.get(file) ?? 0) + 1)
  }
  const share = (rows) => rows.map(([k, v]) => [k, 100 * v / total])
  console.log('\nBy nearest JavaScript caller (natives and builtins charged to the function that called them):')
  show(share(top(byFile, 20)))
  console.log()
  show(share(top(byFunction, 25)))
}
