// What a scenario leaves in the old generation: objects that outlived young collections and
// were then collected by a major GC (each one copied by scavenges, marked, and a reason for the
// next full GC), by allocating function and its two callers, in bytes per call.
//   node bench/promoted.mjs [scenario]      (envelope by default; RUNS=4 runs of 50 × 200 calls;
//                                            `idle`: per stream opened, 2,000 a run, all kept)
// The server runs as `npm start` does, with bench/promoted-preload.cjs loaded to drive V8's
// sampling heap profiler (`includeObjectsCollectedByMajorGC`); live objects are in it too.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLoadClient } from './load.mjs'
import { spawnShipped } from './shipped.mjs'

const scenario = process.argv[2] ?? 'envelope'
const RUNS = Number(process.env.RUNS ?? 4)
const S = 50
const K = 200
const dir = mkdtempSync(join(tmpdir(), 'promoted-'))
const out = join(dir, 'profile.json')
const { proc, base } = await spawnShipped({ nodeFlags: ['--require', new URL('./promoted-preload.cjs', import.meta.url).pathname], env: { PROMOTED_OUT: out } })
const { proc: client, ask } = await startLoadClient()
// `idle` opens 2,000 streams per run and keeps them: what opening a stream leaves behind.
const load = () => ask(scenario, { base, S, K, N: 2000 })
// Warm-up: the JIT and the first sessions' set-up are not what a steady load leaves behind.
for (let i = 0; i < 3; i++) await load()
proc.kill('SIGWINCH')
await new Promise((resolve) => setTimeout(resolve, 200))
let calls = 0
for (let i = 0; i < RUNS; i++) {
  const result = await load()
  calls += result.latencies?.length ?? result.opened
}
proc.kill('SIGWINCH')
while (!existsSync(out)) await new Promise((resolve) => setTimeout(resolve, 100))
let profile
for (;;) {
  try { profile = JSON.parse(readFileSync(out, 'utf8')); break } catch { await new Promise((resolve) => setTimeout(resolve, 100)) }
}
client.kill()
proc.kill('SIGKILL')
rmSync(dir, { recursive: true, force: true })
if (profile.error) throw new Error(profile.error)

const bySite = new Map()
let total = 0
const walk = (node, stack) => {
  const f = node.callFrame
  const frame = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`
  const path = [frame, ...stack].slice(0, 3)
  if (node.selfSize > 0) {
    total += node.selfSize
    const key = path.join(' < ')
    bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize)
  }
  for (const child of node.children) walk(child, path)
}
walk(profile.head, [])
console.log(`${scenario}: ${(total / calls).toFixed(0)} sampled bytes per call over ${calls} calls`)
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 20))) {
  console.log(`${(bytes / calls).toFixed(1).padStart(7)} B/call  ${site}`)
}
process.exit(0)
