// Where a dialect's slowest calls come from, beside the floor's, in interleaved rounds:
//   node bench/tail.mjs [scenario,…]      (default envelope,mcpSse,streamableBoth,modern; ROUNDS=3)
// Per scenario, medians over rounds of 50 sessions × 200 calls: calls/s, p50/p90/p99, the CPU the
// load client and the server used (% of one core: at ~100 % that process is the bottleneck and
// calls queue in it), and of the calls at or above the p99: how many sessions they belong to,
// in how many distinct 2 ms windows they ended (few windows = stalls every session shares; many
// windows on few sessions = some connections persistently served later), and how many overlapped
// one of the server's GC pauses (bench/tail-preload.cjs). The server runs as `npm start` does.
import { fork } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cpuMs, percentile, startLoadClient } from './load.mjs'
import { spawnShipped } from './shipped.mjs'

const scenarios = (process.argv[2] ?? 'envelope,mcpSse,streamableBoth,modern').split(',')
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const S = 50
const K = 200
const dir = mkdtempSync(join(tmpdir(), 'tail-'))
const gcOut = join(dir, 'gc.json')
const here = new URL('.', import.meta.url)
const floor = fork(new URL('./server.mjs', here), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
const floorBase = `http://127.0.0.1:${(await new Promise((resolve) => floor.once('message', resolve))).port}`
const { proc: server, base } = await spawnShipped({ nodeFlags: ['--require', new URL('./tail-preload.cjs', here).pathname], env: { TAIL_GC_OUT: gcOut } })
const { proc: client, ask: run } = await startLoadClient()
const ask = (scenario, b, k) => run(scenario, { base: b, S, K: k, timeline: true })
const overlaps = (gcs, start, end) => gcs.some(([t, d]) => t < end && t + d > start)

/** One run; `ours` (the shipped server) also has its GC pauses recorded for the run. */
async function measure (scenario, b, ours) {
  const pid = ours ? server.pid : floor.pid
  const c0 = cpuMs(client.pid)
  const s0 = cpuMs(pid)
  if (ours) server.kill('SIGWINCH') // drops what was recorded before the run
  const r = await ask(scenario, b, K)
  const c1 = cpuMs(client.pid)
  const s1 = cpuMs(pid)
  let gcs = []
  if (ours) {
    server.kill('SIGWINCH')
    await new Promise((resolve) => setTimeout(resolve, 100))
    gcs = JSON.parse(readFileSync(gcOut, 'utf8'))
  }
  const p99 = percentile(r.latencies, 0.99)
  const sessions = new Set()
  const windows = new Set()
  let inGc = 0
  let slow = 0
  for (let i = 0; i < r.latencies.length; i++) {
    if (r.latencies[i] < p99) continue
    const start = r.origin + r.starts[2 * i]
    const end = start + r.latencies[i]
    slow++
    sessions.add(r.starts[2 * i + 1])
    windows.add(Math.floor(end / 2))
    if (overlaps(gcs, start, end)) inGc++
  }
  return {
    callsPerSec: r.latencies.length / r.seconds,
    p50: percentile(r.latencies, 0.5),
    p90: percentile(r.latencies, 0.9),
    p99,
    clientCpu: (c1 - c0) / r.seconds / 10,
    serverCpu: (s1 - s0) / r.seconds / 10,
    slowSessions: sessions.size,
    slowWindows: windows.size,
    slowInGc: ours ? (inGc / slow) * 100 : NaN,
    serverGcMs: gcs.reduce((n, [, d]) => n + d, 0)
  }
}

for (const scenario of scenarios) await ask(scenario, base, 100)
await ask('envelope', floorBase, 100)
const rows = {}
for (let r = 0; r < ROUNDS; r++) {
  for (const scenario of scenarios) {
    (rows.floor ??= []).push(await measure('envelope', floorBase, false))
    ;(rows[scenario] ??= []).push(await measure(scenario, base, true))
  }
}
const f = (n, d = 1) => Number.isFinite(n) ? n.toFixed(d) : '–'
console.log('| scenario | calls/s | p50 ms | p90 ms | p99 ms | client CPU % | server CPU % | slow calls: sessions | : 2 ms windows | : in a server GC % | server GC ms/run |')
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for (const [name, rs] of Object.entries(rows)) {
  const m = (k) => percentile(rs.map((x) => x[k]), 0.5)
  console.log(`| ${name === 'floor' ? 'floor (bare node:http envelope)' : name} | ${f(m('callsPerSec'), 0)} | ${f(m('p50'), 2)} | ${f(m('p90'), 2)} | ${f(m('p99'), 2)} | ${f(m('clientCpu'), 0)} | ${f(m('serverCpu'), 0)} | ${f(m('slowSessions'), 0)} | ${f(m('slowWindows'), 0)} | ${f(m('slowInGc'), 0)} | ${name === 'floor' ? '–' : f(m('serverGcMs'))} |`)
}
server.kill('SIGKILL')
floor.kill()
client.kill()
rmSync(dir, { recursive: true, force: true })
