// Two builds of the server side by side, each run as `npm start` runs it, in interleaved rounds:
//   git stash && npm run build && rm -rf dist-a && cp -r dist dist-a && git stash pop && npm run build
//   node bench/ab.mjs dist-a dist [scenario,…]      (envelope,mcpSse,streamableBoth,modern; ROUNDS=5)
//   A_FLAGS=… B_FLAGS=… node bench/ab.mjs dist dist    one build under two sets of Node flags
// GAP_MS=… idles both servers that long before each run (the bench's servers idle while the
// others are measured, and V8 shrinks an idle heap's young generation); WARM_K=… then runs an
// untimed S × WARM_K calls on each right before its measured run, as the bench does.
// A build folder sits beside dist/ (its relative paths to package.json and public/ hold). Per
// scenario and build, medians over rounds of 50 sessions × 200 calls: calls/s, p99, and the
// server's CPU per call (µs, from /proc), the figure a change to the request path moves first.
import { cpuMs, percentile, startLoadClient } from './load.mjs'
import { spawnShipped } from './shipped.mjs'

const [a, b, list] = process.argv.slice(2)
if (!a || !b) {
  console.error('usage: node bench/ab.mjs <build A> <build B> [scenario,…]')
  process.exit(1)
}
const scenarios = (list ?? 'envelope,mcpSse,streamableBoth,modern').split(',')
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const S = 50
const K = 200
const GAP_MS = Number(process.env.GAP_MS ?? 0)
const WARM_K = Number(process.env.WARM_K ?? 0)
const flags = [process.env.A_FLAGS, process.env.B_FLAGS].map((f) => (f ?? '').split(' ').filter(Boolean))
const servers = await Promise.all([a, b].map((dir, i) => spawnShipped({ entry: `${dir}/app.js`, nodeFlags: flags[i] })))
const { proc: client, ask: run } = await startLoadClient()
const ask = (scenario, base, k) => run(scenario, { base, S, K: k })
const median = (xs) => percentile(xs, 0.5)

// Warm-up: the JIT settles on each build before anything is measured.
for (const scenario of scenarios) for (const { base } of servers) await ask(scenario, base, 100)
const runs = new Map()
for (let round = 0; round < ROUNDS; round++) {
  for (const scenario of scenarios) {
    // Which build goes first alternates, so neither always runs on a warmer machine.
    const order = round % 2 === 0 ? [0, 1] : [1, 0]
    for (const i of order) {
      const { proc, base } = servers[i]
      if (GAP_MS > 0) await new Promise((resolve) => setTimeout(resolve, GAP_MS))
      if (WARM_K > 0) await ask(scenario, base, WARM_K)
      const c0 = cpuMs(proc.pid)
      const r = await ask(scenario, base, K)
      if (r.errors > 0) throw new Error(`${scenario} on ${[a, b][i]}: ${r.errors} errors`)
      const key = `${scenario} ${i}`
      if (!runs.has(key)) runs.set(key, [])
      runs.get(key).push({ callsPerSec: r.latencies.length / r.seconds, p99: percentile(r.latencies, 0.99), cpuUs: 1000 * (cpuMs(proc.pid) - c0) / r.latencies.length })
    }
  }
}
client.kill()
for (const { proc } of servers) proc.kill('SIGKILL')

const named = (dir, i) => flags[i].length > 0 ? `${dir} ${flags[i].join(' ')}` : dir
console.log(`${ROUNDS} rounds of ${S} × ${K}${GAP_MS > 0 ? `, ${GAP_MS} ms idle before each` : ''}; medians (A = ${named(a, 0)}, B = ${named(b, 1)})`)
console.log('| scenario | calls/s A | calls/s B | p99 ms A | p99 ms B | server µs/call A | server µs/call B |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const scenario of scenarios) {
  const [ra, rb] = [0, 1].map((i) => runs.get(`${scenario} ${i}`))
  const m = (rs, f, digits) => median(rs.map((r) => r[f])).toFixed(digits)
  console.log(`| ${scenario} | ${m(ra, 'callsPerSec', 0)} | ${m(rb, 'callsPerSec', 0)} | ${m(ra, 'p99', 2)} | ${m(rb, 'p99', 2)} | ${m(ra, 'cpuUs', 1)} | ${m(rb, 'cpuUs', 1)} |`)
}
