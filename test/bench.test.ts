import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)

t.test('the quick bench runs end to end and verifies every answer', async (t) => {
  const root = new URL('..', import.meta.url).pathname
  const { stdout } = await run(process.execPath, ['bench/run.mjs', '--quick'], { cwd: root, timeout: 120_000 })
  t.match(stdout, /\| envelope \|/, 'prints the table')
  const result = JSON.parse(readFileSync(new URL('../bench/results/quick.json', import.meta.url), 'utf8'))
  t.equal(result.errors, 0, 'no wrong or missing answer')
  for (const scenario of ['envelope', 'mcpSse', 'streamable', 'modern']) {
    t.equal(result.app[scenario].calls, result.params.S * result.params.K * result.params.rounds, `${scenario}: every call answered`)
    t.ok(result.app[scenario].callsPerSec > 0)
  }
  t.equal(result.floor.control.calls, result.params.S * result.params.K * result.params.rounds, 'the floor measured against itself (the run\'s noise)')
  t.match(result.table, /\| floor again, a second process \(this run's noise\) \|/)
  t.equal(result.app.idle.opened, result.params.N, 'every idle stream opened')
  t.ok(Number.isFinite(result.app.idle.rssPerStreamKiB))
  t.ok(Number.isFinite(result.app.idle.rssSlopeKiB), 'RSS per idle stream is also fitted over the steps')
  t.equal(result.app.idle.steps.length, 6, 'RSS read before and after each of five steps')
  for (const peer of ['v1Streamable', 'v1Sse', 'v2Modern', 'tmcpStreamable', 'tmcpModern', 'fastmcpStreamable', 'fastmcpSse', 'handlerStreamable', 'handlerModern', 'honoStreamable']) {
    t.equal(result.peers[peer].calls, result.params.S * result.params.K * result.params.rounds, `peer ${peer}: every call answered`)
  }
  t.type(result.targets['envelope ≥ 1.0× floor calls/s, p99 ≤ 1.2×'], 'boolean', 'targets are reported (asserted by the bench, not by tests)')
  t.match(result.table, /\| SDK v2: createMcpHandler, 2026-07-28 \|/, 'the peers are in the table')
  t.match(result.table, /\| @hono\/mcp: Streamable HTTP \|/)
  t.equal(result.app.tasks.errors, 0, 'tasks: every task completed with its result')
  t.ok(result.app.tasks.tasksPerSec > 0)
  t.equal(result.app.curveSummary.envelope.length, 3, 'the session curve has its three points')
})
