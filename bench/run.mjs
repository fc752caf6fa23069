// npm run bench [-- --quick] [-- --streams 10000] [-- --redis]
// Starts the server and a bare node:http floor as child processes, drives both from a client
// process with the same scenarios, and reports every figure against the floor of the same run.
import { fork, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import { join } from 'node:path'

const args = process.argv.slice(2)
const flag = (name) => args.includes(`--${name}`)
const value = (name, fallback) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : fallback }
const quick = flag('quick')
const S = value('sessions', quick ? 5 : 50)
const K = value('calls', quick ? 20 : 200)
const N = value('streams', quick ? 200 : 5000)
const here = new URL('.', import.meta.url)

function child (script, argv = [], execArgv = []) {
  const proc = fork(new URL(script, here), argv, { execArgv: ['--expose-gc', ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const pending = []
  proc.on('message', (m) => pending.shift()?.(m))
  const next = () => new Promise((resolve) => pending.push(resolve))
  return { proc, next, ask: (msg) => { const p = next(); proc.send(msg); return p }, kill: () => proc.kill() }
}

async function startServer (kind, redisUrl) {
  const s = child('./server.mjs', redisUrl ? [kind, redisUrl] : [kind])
  const { port } = await s.next()
  return { ...s, base: `http://127.0.0.1:${port}`, mem: () => s.ask({ cmd: 'mem' }) }
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN }
function summarize ({ latencies, errors, seconds }) {
  return { calls: latencies.length, errors, callsPerSec: latencies.length / seconds, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), max: Math.max(...latencies) }
}

async function run (client, scenario, params) {
  const reply = await client.ask({ scenario, params })
  if (!reply.ok) throw new Error(`${scenario}: ${reply.error}`)
  return reply.result
}

async function roundTrips (client, base, scenario) {
  // Warm-up: let the JIT and the pools settle before measuring.
  await run(client, scenario, { base, S, K: Math.min(K, 40) })
  return summarize(await run(client, scenario, { base, S, K }))
}

async function idleCapacity (client, server) {
  const before = await server.mem()
  const { opened, failed } = await run(client, 'idle', { base: server.base, N })
  await new Promise((resolve) => setTimeout(resolve, 500))
  const after = await server.mem()
  const during = summarize(await run(client, 'envelope', { base: server.base, S: 1, K: 10 }))
  await run(client, 'closeIdle', {})
  return { opened, failed, rssPerStreamKiB: (after.rss - before.rss) / 1024 / opened, heapPerStreamKiB: (after.heapUsed - before.heapUsed) / 1024 / opened, callWhileHeldMs: during.max, errors: during.errors + failed }
}

async function freePort () {
  const srv = net.createServer()
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address()
  await new Promise((resolve) => srv.close(resolve))
  return port
}

async function startRedis () {
  const binary = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(existsSync)
  if (!binary) throw new Error('--redis needs redis-server (apt-get install -y redis-server)')
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-redis-'))
  const port = await freePort()
  const proc = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => { const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true) }); s.on('error', () => resolve(false)) })
    if (up) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { url: `redis://127.0.0.1:${port}`, stop: () => { proc.kill(); rmSync(dir, { recursive: true, force: true }) } }
}

const started = Date.now()
const client = child('./client.mjs')
await client.next()
const results = { date: new Date().toISOString(), machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version }, params: { S, K, N, quick } }
const cleanup = []
try {
  const floor = await startServer('floor')
  cleanup.push(floor.kill)
  results.floor = { envelope: await roundTrips(client, floor.base, 'envelope'), idle: await idleCapacity(client, floor) }
  floor.kill()

  const app = await startServer('app')
  cleanup.push(app.kill)
  results.app = {
    envelope: await roundTrips(client, app.base, 'envelope'),
    mcpSse: await roundTrips(client, app.base, 'mcpSse'),
    streamable: await roundTrips(client, app.base, 'streamable'),
    idle: await idleCapacity(client, app)
  }
  app.kill()

  if (flag('redis')) {
    const redis = await startRedis()
    cleanup.push(redis.stop)
    const onRedis = await startServer('app', redis.url)
    cleanup.push(onRedis.kill)
    results.app.redisEnvelope = await roundTrips(client, onRedis.base, 'envelope')
    onRedis.kill()
    redis.stop()
  }
} finally {
  for (const stop of cleanup) { try { stop() } catch {} }
  client.kill()
}

const f = results.floor.envelope
const rows = [
  ['floor: envelope', f, null],
  ['envelope', results.app.envelope, f],
  ['MCP HTTP+SSE', results.app.mcpSse, f],
  ['MCP Streamable HTTP (JSON)', results.app.streamable, f],
  ...(results.app.redisEnvelope ? [['envelope on Redis', results.app.redisEnvelope, f]] : [])
]
const fmt = (n, d = 1) => Number.isFinite(n) ? n.toFixed(d) : '—'
console.log(`\nDataPulseSSE bench — ${results.date}, ${results.machine.cores} cores, Node ${results.machine.node}; S=${S} sessions × K=${K} calls, N=${N} idle streams\n`)
console.log('| scenario | calls/s | ×floor | p50 ms | p99 ms | ×floor p99 | max ms | errors |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const [name, r, base] of rows) {
  console.log(`| ${name} | ${fmt(r.callsPerSec, 0)} | ${base ? fmt(r.callsPerSec / base.callsPerSec, 2) : '1.00'} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${base ? fmt(r.p99 / base.p99, 2) : '1.00'} | ${fmt(r.max, 1)} | ${r.errors} |`)
}
const fi = results.floor.idle
const ai = results.app.idle
console.log(`\n| idle streams (N=${N}) | opened | RSS KiB/stream | heap KiB/stream | one call while held, ms |`)
console.log('| --- | ---: | ---: | ---: | ---: |')
console.log(`| floor | ${fi.opened} | ${fmt(fi.rssPerStreamKiB)} | ${fmt(fi.heapPerStreamKiB)} | ${fmt(fi.callWhileHeldMs)} |`)
console.log(`| DataPulseSSE | ${ai.opened} | ${fmt(ai.rssPerStreamKiB)} | ${fmt(ai.heapPerStreamKiB)} | ${fmt(ai.callWhileHeldMs)} |`)

const targets = [
  ['envelope calls/s ≥ 0.8× floor', results.app.envelope.callsPerSec >= 0.8 * f.callsPerSec],
  ['envelope p99 ≤ 1.3× floor', results.app.envelope.p99 <= 1.3 * f.p99],
  ['idle RSS ≤ 16 KiB per stream', ai.rssPerStreamKiB <= 16],
  ['a call < 50 ms while streams are held', ai.callWhileHeldMs < 50],
  ...(results.app.redisEnvelope ? [['Redis ≥ 0.5× memory calls/s', results.app.redisEnvelope.callsPerSec >= 0.5 * results.app.envelope.callsPerSec]] : [])
]
console.log('\nTargets:')
for (const [name, met] of targets) console.log(`  ${met ? 'met   ' : 'MISSED'} ${name}`)
results.targets = Object.fromEntries(targets)
const errors = rows.reduce((n, [, r]) => n + r.errors, 0) + ai.errors + fi.errors
results.errors = errors
results.seconds = (Date.now() - started) / 1000
mkdirSync(new URL('./results/', here), { recursive: true })
const out = new URL(`./results/${quick ? 'quick' : 'latest'}.json`, here)
writeFileSync(out, JSON.stringify(results, null, 2))
console.log(`\n${results.seconds.toFixed(0)} s; results in ${out.pathname}`)
if (errors > 0) {
  console.error(`${errors} wrong or missing answers`)
  process.exit(1)
}
