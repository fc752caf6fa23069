// npm run bench [-- --quick] [-- --rounds 9] [-- --streams 10000] [-- --redis [--instances 8]]
// Starts the server exactly as `npm start` does (fastify start -o, dist/app.js, log level info),
// a bare node:http floor and the official SDK servers as peers, each as a child process; drives
// them all from one client process with the same scenarios, and reports every figure against the
// floor of the same run. Scenarios run in interleaved rounds, each one right after a floor run of
// its own, and each figure is the median over rounds of its ratio to that paired floor run, so a
// slow second on a shared machine moves the floor and the scenario together instead of one of them.
// Exits non-zero when an answer is wrong or (outside --quick) a target is missed.
import { fork, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import { join } from 'node:path'
import { freePort, spawnShipped } from './shipped.mjs'

const args = process.argv.slice(2)
const flag = (name) => args.includes(`--${name}`)
const value = (name, fallback) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : fallback }
const quick = flag('quick')
const S = value('sessions', quick ? 5 : 50)
const K = value('calls', quick ? 20 : 200)
const N = value('streams', quick ? 200 : 10_000)
const ROUNDS = value('rounds', quick ? 1 : 9)
const WARM_K = Math.min(K, 40)
const INSTANCES = value('instances', 0)
const here = new URL('.', import.meta.url)

function child (script, argv = [], execArgv = [], stdout = 'inherit') {
  const proc = fork(new URL(script, here), argv, { execArgv: ['--expose-gc', ...execArgv], stdio: ['ignore', stdout, 'inherit', 'ipc'] })
  const pending = []
  proc.on('message', (m) => pending.shift()?.(m))
  const next = () => new Promise((resolve) => pending.push(resolve))
  return { proc, next, ask: (msg) => { const p = next(); proc.send(msg); return p }, kill: () => proc.kill() }
}

async function startServer (script, stdout) {
  const s = child(script, [], [], stdout)
  const { port } = await s.next()
  return { ...s, base: `http://127.0.0.1:${port}`, mem: () => s.ask({ cmd: 'mem' }) }
}

/** The server users run (bench/shipped.mjs), with its memory as the bench reads it. */
async function startShipped (env = {}, entry) {
  const { proc, base } = await spawnShipped({ env, entry })
  const mem = async () => {
    const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8')
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
    const metrics = await (await fetch(`${base}/metrics`)).text()
    const heapUsed = Number(/^datapulse_nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? 0)
    return { rss, heapUsed }
  }
  return { base, mem, kill: () => proc.kill('SIGKILL') }
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
  await run(client, scenario, { base, S, K: Math.min(K, 100) })
  return summarize(await run(client, scenario, { base, S, K }))
}

const median = (xs) => pct(xs, 0.5)

/**
 * One measured run, right after an untimed one of S × WARM_K calls on the same server. A server
 * that idled while the others were measured (most of a round, for all but the floor, which runs
 * before every scenario) starts slower: V8 shrank its young generation and the machine runs it
 * slower for a while. Without this, each run measured how fast a server got back from idle,
 * which the floor never had to; `node bench/ab.mjs` with GAP_MS=15000 and WARM_K (docs/performance.md).
 */
async function warmRun (client, base, scenario) {
  await run(client, scenario, { base, S, K: WARM_K })
  return run(client, scenario, { base, S, K })
}

/**
 * Runs every [name, base, scenario] once per round, after one warm-up each, each one right after
 * a floor run of its own (the first entry), and every run right after an untimed one (warmRun):
 * on this shared machine a slow second can hit any run, and a floor measured next to the scenario
 * shares it. Returns per name: median calls/s, p50 and p99, and the medians of the per-round
 * ratios to the paired floor run.
 */
async function interleaved (client, entries) {
  for (const [, base, scenario] of entries) await run(client, scenario, { base, S, K: Math.min(K, 100) })
  const [floorName, floorBase, floorScenario] = entries[0]
  const rounds = []
  const floors = []
  const measured = entries.slice(1)
  for (let r = 0; r < ROUNDS; r++) {
    const round = {}
    const paired = {}
    // The order rotates every round: a scenario that leaves garbage behind (the envelope keeps
    // its replay history) would otherwise always hand its GC work to the same next scenario.
    const order = [...measured.slice(r % measured.length), ...measured.slice(0, r % measured.length)]
    for (const [name, base, scenario] of order) {
      const floor = summarize(await warmRun(client, floorBase, floorScenario))
      floors.push(floor)
      paired[name] = floor
      round[name] = summarize(await warmRun(client, base, scenario))
    }
    rounds.push({ round, paired })
  }
  const figures = (rs, ratios, p99Ratios) => ({
    calls: rs.reduce((n, r) => n + r.calls, 0),
    errors: rs.reduce((n, r) => n + r.errors, 0),
    callsPerSec: median(rs.map((r) => r.callsPerSec)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    max: Math.max(...rs.map((r) => r.max)),
    ratio: median(ratios),
    p99Ratio: median(p99Ratios),
    rounds: rs.map((r) => ({ callsPerSec: Math.round(r.callsPerSec), p99: Number(r.p99.toFixed(2)) }))
  })
  const out = { [floorName]: figures(floors, floors.map(() => 1), floors.map(() => 1)) }
  for (const [name] of entries.slice(1)) {
    out[name] = figures(rounds.map(({ round }) => round[name]),
      rounds.map(({ round, paired }) => round[name].callsPerSec / paired[name].callsPerSec),
      rounds.map(({ round, paired }) => round[name].p99 / paired[name].p99))
    out[name].floorRounds = rounds.map(({ paired }) => ({ callsPerSec: Math.round(paired[name].callsPerSec), p99: Number(paired[name].p99.toFixed(2)) }))
  }
  return out
}

/** Least-squares slope of ys against xs. */
function slope (xs, ys) {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length
  const my = ys.reduce((a, b) => a + b, 0) / ys.length
  let num = 0
  let den = 0
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my)
    den += (xs[i] - mx) ** 2
  }
  return num / den
}

/**
 * N idle streams opened in IDLE_STEPS equal steps, RSS and heap read after each: bytes per stream
 * as the whole difference over N, and as the slope of a line fitted through every step. RSS grows
 * by the heap's and the allocator's steps, 6–11 KiB per stream over one 5,000-stream step for
 * either server (docs/performance.md): one difference lands wherever a step fell, the fit less so.
 */
const IDLE_STEPS = 5
async function idleCapacity (client, server) {
  const points = [{ opened: 0, ...(await server.mem()) }]
  let opened = 0
  let failed = 0
  for (let step = 1; step <= IDLE_STEPS; step++) {
    const r = await run(client, 'idle', { base: server.base, N: Math.round(N * step / IDLE_STEPS) - Math.round(N * (step - 1) / IDLE_STEPS) })
    opened += r.opened
    failed += r.failed
    await new Promise((resolve) => setTimeout(resolve, 500))
    points.push({ opened, ...(await server.mem()) })
  }
  const [before, after] = [points[0], points.at(-1)]
  const during = summarize(await run(client, 'envelope', { base: server.base, S: 1, K: 10 }))
  await run(client, 'closeIdle', {})
  const kib = (bytes) => bytes / 1024
  return {
    opened,
    failed,
    rssPerStreamKiB: kib(after.rss - before.rss) / opened,
    rssSlopeKiB: kib(slope(points.map((p) => p.opened), points.map((p) => p.rss))),
    heapPerStreamKiB: kib(after.heapUsed - before.heapUsed) / opened,
    steps: points.map((p) => ({ opened: p.opened, rssKiB: Math.round(kib(p.rss)), heapKiB: Math.round(kib(p.heapUsed)) })),
    callWhileHeldMs: during.max,
    errors: during.errors + failed
  }
}

async function startRedis (extra = []) {
  const binary = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(existsSync)
  if (!binary) throw new Error('--redis needs redis-server (apt-get install -y redis-server)')
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-redis-'))
  const port = await freePort()
  const proc = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...extra], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => { const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true) }); s.on('error', () => resolve(false)) })
    if (up) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { url: `redis://127.0.0.1:${port}`, address: `127.0.0.1:${port}`, stop: () => { proc.kill(); rmSync(dir, { recursive: true, force: true }) } }
}

/** A three-master Redis Cluster on loopback. */
async function startRedisCluster () {
  const nodes = await Promise.all([0, 1, 2].map(() => startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${Math.random().toString(36).slice(2)}.conf`])))
  const addresses = nodes.map((n) => n.address)
  await new Promise((resolve, reject) => spawn('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' })
    .on('exit', (code) => code === 0 ? resolve() : reject(new Error('redis-cli --cluster create failed'))))
  // Usable once every node reports cluster_state:ok.
  for (const address of addresses) {
    for (let i = 0; i < 150; i++) {
      const info = await new Promise((resolve) => {
        let out = ''
        spawn('redis-cli', ['-p', address.split(':')[1], 'cluster', 'info']).stdout.on('data', (d) => { out += d }).on('close', () => resolve(out))
      })
      if (String(info).includes('cluster_state:ok')) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return { addresses, stop: () => nodes.forEach((n) => n.stop()) }
}

const started = Date.now()
const client = child('./client.mjs')
await client.next()
const results = { date: new Date().toISOString(), machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version }, params: { S, K, N, rounds: ROUNDS, quick } }
const cleanup = []
try {
  const floor = await startServer('./server.mjs')
  cleanup.push(floor.kill)
  // The same floor in a second process, measured like every other server: its ratios to the
  // first are this run's noise, the yardstick for every other ratio in the table.
  const control = await startServer('./server.mjs')
  cleanup.push(control.kill)
  const app = await startShipped()
  cleanup.push(app.kill)
  const v1 = await startServer('./peer-sdk-v1.mjs')
  cleanup.push(v1.kill)
  const v2 = await startServer('./peer-sdk-v2.mjs')
  cleanup.push(v2.kill)
  // The frameworks users pick instead, each written as its README shows (bench/peer-*.mjs).
  const peers = {}
  for (const name of ['tmcp', 'fastmcp', 'mcp-handler', 'hono']) {
    // Their logs (fastmcp writes a line per session to stdout) would drown the bench's own.
    peers[name] = await startServer(`./peer-${name}.mjs`, 'ignore')
    cleanup.push(peers[name].kill)
  }
  const measured = await interleaved(client, [
    ['floor', floor.base, 'envelope'],
    ['control', control.base, 'envelope'],
    ['envelope', app.base, 'envelope'],
    ['mcpSse', app.base, 'mcpSse'],
    ['streamable', app.base, 'streamableBoth'],
    ['modern', app.base, 'modern'],
    ['v1Streamable', v1.base, 'streamableBoth'],
    ['v1Sse', v1.base, 'mcpSse'],
    ['v2Modern', v2.base, 'modern'],
    ['tmcpStreamable', peers.tmcp.base, 'streamableBoth'],
    ['tmcpModern', peers.tmcp.base, 'modern'],
    ['fastmcpStreamable', peers.fastmcp.base, 'streamableBoth'],
    ['fastmcpSse', peers.fastmcp.base, 'mcpSse'],
    ['handlerStreamable', peers['mcp-handler'].base, 'streamableBoth'],
    ['handlerModern', peers['mcp-handler'].base, 'modern'],
    ['honoStreamable', peers.hono.base, 'streamableBoth']
  ])
  v1.kill()
  v2.kill()
  for (const peer of Object.values(peers)) peer.kill()
  control.kill()
  results.floor = { envelope: measured.floor, control: measured.control, idle: await idleCapacity(client, floor) }
  floor.kill()
  results.app = {
    envelope: measured.envelope,
    mcpSse: measured.mcpSse,
    streamable: measured.streamable,
    modern: measured.modern,
    idle: await idleCapacity(client, app)
  }
  app.kill()
  results.peers = Object.fromEntries(['v1Streamable', 'v1Sse', 'v2Modern', 'tmcpStreamable', 'tmcpModern', 'fastmcpStreamable', 'fastmcpSse', 'handlerStreamable', 'handlerModern', 'honoStreamable']
    .map((name) => [name, measured[name]]))

  // How cost grows with the work: the shipped server under 50 × 100, 500 × 20 and 2,000 × 10
  // (sessions × sequential calls), envelope and Streamable HTTP, in alternation.
  const curveApp = await startShipped()
  cleanup.push(curveApp.kill)
  const CURVE = quick ? [[5, 20], [50, 4], [200, 2]] : [[50, 100], [500, 20], [2000, 10]]
  results.app.curve = {}
  for (const scenario of ['envelope', 'streamableBoth']) {
    await run(client, scenario, { base: curveApp.base, S: CURVE[0][0], K: 10 })
    results.app.curve[scenario] = []
  }
  for (let r = 0; r < Math.max(1, Math.min(ROUNDS, 3)); r++) {
    for (const [sessions, calls] of CURVE) {
      for (const scenario of ['envelope', 'streamableBoth']) {
        const m = summarize(await run(client, scenario, { base: curveApp.base, S: sessions, K: calls }))
        results.app.curve[scenario].push({ sessions, calls, ...m })
      }
    }
  }
  curveApp.kill()
  const curvePoint = (scenario, sessions) => {
    const rs = results.app.curve[scenario].filter((m) => m.sessions === sessions)
    return { callsPerSec: median(rs.map((m) => m.callsPerSec)), p99: median(rs.map((m) => m.p99)), errors: rs.reduce((n, m) => n + m.errors, 0) }
  }
  results.app.curveSummary = Object.fromEntries(['envelope', 'streamableBoth'].map((scenario) =>
    [scenario, CURVE.map(([sessions, calls]) => ({ sessions, calls, ...curvePoint(scenario, sessions) }))]))

  // Tasks: the everything fixture (the same command line and settings, plus tools that run as
  // tasks), a task made, polled and read, against the same tool called plainly, in alternation.
  const fixture = await startShipped({}, 'dist/examples/everything.js')
  cleanup.push(fixture.kill)
  const taskRounds = []
  for (let r = 0; r < Math.max(1, Math.min(ROUNDS, 3)); r++) {
    const plain = await roundTrips(client, fixture.base, 'plainCompute')
    const tasks = await run(client, 'tasks', { base: fixture.base, S, K: Math.min(K, 100) })
    taskRounds.push({ plain, tasks: { ...summarize(tasks), polls: tasks.polls } })
  }
  fixture.kill()
  results.app.tasks = {
    tasksPerSec: median(taskRounds.map((r) => r.tasks.callsPerSec)),
    p50: median(taskRounds.map((r) => r.tasks.p50)),
    p99: median(taskRounds.map((r) => r.tasks.p99)),
    errors: taskRounds.reduce((n, r) => n + r.tasks.errors + r.plain.errors, 0),
    pollsPerTask: median(taskRounds.map((r) => r.tasks.polls / (r.tasks.calls + r.tasks.errors + S))),
    plainPerSec: median(taskRounds.map((r) => r.plain.callsPerSec)),
    // Server time a task costs, in plain calls' worth (each task is 1 create + its polls).
    costInCalls: median(taskRounds.map((r) => r.plain.callsPerSec / r.tasks.callsPerSec))
  }

  if (flag('redis')) {
    const redis = await startRedis()
    cleanup.push(redis.stop)
    const cluster = await startRedisCluster()
    cleanup.push(cluster.stop)
    const inMemory = await startShipped()
    cleanup.push(inMemory.kill)
    const onRedis = await startShipped({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: `bench${Date.now()}:` })
    cleanup.push(onRedis.kill)
    const onCluster = await startShipped({ REDIS_CLUSTER_NODES: cluster.addresses.join(','), REDIS_KEY_PREFIX: 'benchc:' })
    cleanup.push(onCluster.kill)
    // In memory, on Redis and on a cluster in the same interleaved rounds, each Redis run right
    // after an in-memory run of its own: the ratio is the median of those pairs, as for the floor.
    const stores = await interleaved(client, [
      ['memory', inMemory.base, 'envelope'],
      ['redis', onRedis.base, 'envelope'],
      ['cluster', onCluster.base, 'envelope']
    ])
    results.app.redis = { memory: stores.memory, single: stores.redis, cluster: stores.cluster }
    for (const s of [inMemory, onRedis, onCluster]) s.kill()
    cluster.stop()
    if (INSTANCES > 2) {
      // Publish cost as the fleet grows: two fleets on one Redis (each under its own key prefix),
      // of 2 and of INSTANCES instances, every instance but the first holding streams of other
      // sessions, the first of each measured in interleaved rounds (the larger fleet right after
      // the smaller one, per-round ratios). Wake-ups that went to every instance would make the
      // larger fleet slower; per-session channels keep it flat.
      const fleets = {}
      for (const size of [2, INSTANCES]) {
        const fleet = []
        for (let i = 0; i < size; i++) fleet.push(await startShipped({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: `fleet${size}:` }))
        cleanup.push(() => fleet.forEach((f) => f.kill()))
        for (const other of fleet.slice(1)) await run(client, 'idle', { base: other.base, N: 200 })
        fleets[size] = fleet
      }
      const measured = await interleaved(client, [['2', fleets[2][0].base, 'envelope'], [String(INSTANCES), fleets[INSTANCES][0].base, 'envelope']])
      results.app.fleet = { 2: measured['2'], [INSTANCES]: measured[String(INSTANCES)] }
      await run(client, 'closeIdle', {})
      for (const fleet of Object.values(fleets)) fleet.forEach((f) => f.kill())
    }
    redis.stop()
  }
} finally {
  for (const stop of cleanup) { try { stop() } catch {} }
  client.kill()
}

const f = results.floor.envelope
const v2 = results.peers.v2Modern
const rows = [
  ['floor: envelope (bare node:http)', f, f],
  ['floor again, a second process (this run\'s noise)', results.floor.control, f],
  ['envelope', results.app.envelope, f],
  ['MCP HTTP+SSE (2024-11-05)', results.app.mcpSse, f],
  ['MCP Streamable HTTP, Accept: both', results.app.streamable, f],
  ['MCP 2026-07-28', results.app.modern, f],
  ['SDK v1: Streamable HTTP', results.peers.v1Streamable, f],
  ['SDK v1: HTTP+SSE', results.peers.v1Sse, f],
  ['SDK v2: createMcpHandler, 2026-07-28', v2, f],
  ['tmcp: Streamable HTTP', results.peers.tmcpStreamable, f],
  ['tmcp: 2026-07-28', results.peers.tmcpModern, f],
  ['fastmcp: Streamable HTTP', results.peers.fastmcpStreamable, f],
  ['fastmcp: HTTP+SSE', results.peers.fastmcpSse, f],
  ['mcp-handler: Streamable HTTP', results.peers.handlerStreamable, f],
  ['mcp-handler: 2026-07-28', results.peers.handlerModern, f],
  ['@hono/mcp: Streamable HTTP', results.peers.honoStreamable, f],
]
const rd = results.app.redis
const redisRows = rd
  ? [['in memory', rd.memory, rd.memory], ['on Redis', rd.single, rd.memory], ['on a 3-master Redis Cluster', rd.cluster, rd.memory],
      // The fleets' own ratios are to each other (the target below); this column is to in memory.
      ...Object.entries(results.app.fleet ?? {}).map(([size, r]) => [`on Redis, ${size} instances (fleet rounds)`, { ...r, ratio: undefined, p99Ratio: undefined }, rd.memory])]
  : []
// Interleaved figures carry their per-round median ratios; the others (the fleet) compare to the base's median.
const ratioOf = (r, base) => r.ratio ?? r.callsPerSec / base.callsPerSec
const p99RatioOf = (r, base) => r.p99Ratio ?? r.p99 / base.p99
const fmt = (n, d = 1) => Number.isFinite(n) ? n.toFixed(d) : '—'
const lines = []
lines.push(`Run ${results.date.slice(0, 10)}, ${results.machine.cores} cores, Node ${results.machine.node}; ${S} sessions × ${K} sequential get_time calls, ${ROUNDS} interleaved round${ROUNDS > 1 ? 's' : ''} (medians); ${N} idle streams.`, '')
lines.push('| scenario | calls/s | ×floor | p50 ms | p99 ms | ×floor p99 | errors |')
lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const [name, r, base] of rows) {
  lines.push(`| ${name} | ${fmt(r.callsPerSec, 0)} | ${fmt(ratioOf(r, base), 2)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(p99RatioOf(r, base), 2)} | ${r.errors} |`)
}
if (rd) {
  lines.push('', '| envelope, same rounds | calls/s | ×in memory | p50 ms | p99 ms | ×in memory p99 | errors |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const [name, r, base] of redisRows) {
    lines.push(`| ${name} | ${fmt(r.callsPerSec, 0)} | ${fmt(ratioOf(r, base), 2)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(p99RatioOf(r, base), 2)} | ${r.errors} |`)
  }
}
const tk = results.app.tasks
lines.push('', '| tasks (2026-07-28 extension, 0 s tool) | tasks/s | p50 ms | p99 ms | tasks/get per task | cost in plain calls | errors |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
lines.push(`| create → poll → result | ${fmt(tk.tasksPerSec, 0)} | ${fmt(tk.p50, 2)} | ${fmt(tk.p99, 2)} | ${fmt(tk.pollsPerTask, 2)} | ${fmt(tk.costInCalls, 2)} (plain: ${fmt(tk.plainPerSec, 0)} calls/s) | ${tk.errors} |`)
const curve = results.app.curveSummary
lines.push('', '| sessions × calls (shipped) | envelope calls/s | envelope p99 ms | Streamable calls/s | Streamable p99 ms |', '| --- | ---: | ---: | ---: | ---: |')
curve.envelope.forEach((e, i) => {
  const s = curve.streamableBoth[i]
  lines.push(`| ${e.sessions} × ${e.calls} | ${fmt(e.callsPerSec, 0)} | ${fmt(e.p99, 2)} | ${fmt(s.callsPerSec, 0)} | ${fmt(s.p99, 2)} |`)
})
const fi = results.floor.idle
const ai = results.app.idle
lines.push('', `| ${N} idle streams | opened | RSS KiB/stream | RSS KiB/stream, fit over ${IDLE_STEPS} steps | heap KiB/stream | one call while held, ms |`, '| --- | ---: | ---: | ---: | ---: | ---: |')
lines.push(`| floor | ${fi.opened} | ${fmt(fi.rssPerStreamKiB)} | ${fmt(fi.rssSlopeKiB)} | ${fmt(fi.heapPerStreamKiB)} | ${fmt(fi.callWhileHeldMs)} |`)
lines.push(`| DataPulseSSE | ${ai.opened} | ${fmt(ai.rssPerStreamKiB)} | ${fmt(ai.rssSlopeKiB)} | ${fmt(ai.heapPerStreamKiB)} | ${fmt(ai.callWhileHeldMs)} |`)

const fast = (r) => ratioOf(r, f) >= 1.0 && p99RatioOf(r, f) <= 1.2
const ps = results.peers
const fastest = (names) => Math.max(...names.map((n) => ratioOf(ps[n], f)))
const last = (scenario) => curve[scenario].at(-1).callsPerSec / curve[scenario][0].callsPerSec
const targets = [
  ['envelope ≥ 1.0× floor calls/s, p99 ≤ 1.2×', fast(results.app.envelope)],
  ['HTTP+SSE ≥ 1.0× floor calls/s, p99 ≤ 1.2×', fast(results.app.mcpSse)],
  ['Streamable HTTP ≥ 1.0× floor calls/s, p99 ≤ 1.2×', fast(results.app.streamable)],
  ['2026-07-28 ≥ 1.0× floor calls/s, p99 ≤ 1.2×', fast(results.app.modern)],
  ['Streamable HTTP ≥ 2× the fastest peer', ratioOf(results.app.streamable, f) >= 2 * fastest(['v1Streamable', 'tmcpStreamable', 'fastmcpStreamable', 'handlerStreamable', 'honoStreamable'])],
  ['2026-07-28 ≥ 2× the fastest peer', ratioOf(results.app.modern, f) >= 2 * fastest(['v2Modern', 'tmcpModern', 'handlerModern'])],
  ['HTTP+SSE ≥ 2× the fastest peer', ratioOf(results.app.mcpSse, f) >= 2 * fastest(['v1Sse', 'fastmcpSse'])],
  [`envelope flat: ${curve.envelope.at(-1).sessions} sessions ≥ 0.8× the calls/s of ${curve.envelope[0].sessions}`, last('envelope') >= 0.8],
  [`Streamable HTTP flat: ${curve.streamableBoth.at(-1).sessions} sessions ≥ 0.8× the calls/s of ${curve.streamableBoth[0].sessions}`, last('streamableBoth') >= 0.8],
  // The target: an idle stream costs no more than the floor's, measured the same way.
  [`${N} idle streams: no more RSS each than the floor's (the fit over ${IDLE_STEPS} steps)`, ai.opened === N && fi.opened === N && ai.rssSlopeKiB <= fi.rssSlopeKiB],
  ['a call < 50 ms while they are held', ai.callWhileHeldMs < 50],
  ...(rd ? [['envelope on Redis ≥ 0.8× in memory', ratioOf(rd.single, rd.memory) >= 0.8]] : []),
  ...(results.app.fleet ? [[`Redis publish cost flat from 2 to ${INSTANCES} instances (≥ 0.8×, paired rounds)`, results.app.fleet[INSTANCES].ratio >= 0.8]] : [])
]
lines.push('', `Targets (the floor against itself in this run: ${fmt(ratioOf(results.floor.control, f), 2)}× calls/s, ${fmt(p99RatioOf(results.floor.control, f), 2)}× p99):`)
for (const [name, met] of targets) lines.push(`- ${met ? 'met' : '**MISSED**'}: ${name}`)
console.log(`\n${lines.join('\n')}`)
results.targets = Object.fromEntries(targets)
results.table = lines.join('\n')
const errors = [...rows, ...redisRows].reduce((n, [, r]) => n + r.errors, 0) + ai.errors + fi.errors + tk.errors +
  Object.values(curve).flat().reduce((n, m) => n + m.errors, 0)
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
// A full run regenerates the tables in the README and docs/performance.md (between the markers),
// and the plots beside them.
if (!quick) {
  const root = new URL('..', here)
  const { barChart, lineChart } = await import('./plot.mjs')
  const bars = rows.slice(1).filter(([name]) => !name.includes('Redis')).map(([label, r]) => ({
    label, value: ratioOf(r, f), group: /^(envelope|MCP )/.test(label) ? 'DataPulseSSE' : label.startsWith('floor') ? 'floor' : 'peer'
  }))
  writeFileSync(new URL('docs/bench-peers.svg', root), barChart({ title: `calls/s as a multiple of the bare node:http floor (${results.date.slice(0, 10)})`, bars }))
  writeFileSync(new URL('docs/bench-sessions.svg', root), lineChart({
    title: 'calls/s as concurrent sessions grow (shipped settings)',
    xLabel: 'concurrent sessions',
    yLabel: 'calls/s',
    series: [['envelope', 'envelope'], ['Streamable HTTP', 'streamableBoth']].map(([label, key]) => ({ label, points: curve[key].map((p) => [p.sessions, p.callsPerSec]) }))
  }))
  console.log('plots written into docs/bench-peers.svg and docs/bench-sessions.svg')
  for (const file of ['README.md', 'docs/performance.md']) {
    const path = new URL(file, root)
    if (!existsSync(path)) continue
    const text = readFileSync(path, 'utf8')
    const next = text.replace(/(<!-- bench:start -->)[\s\S]*?(<!-- bench:end -->)/, (_m, start, end) => `${start}\n${results.table}\n${end}`)
    if (next !== text) writeFileSync(path, next)
    console.log(next !== text ? `tables written into ${file}` : `${file}: no bench markers, left as it is`)
  }
}
const missed = targets.filter(([, met]) => !met).map(([name]) => name)
if (missed.length > 0 && !quick) {
  console.error(`targets missed: ${missed.join('; ')}`)
  process.exit(2)
}
