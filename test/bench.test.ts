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
  for (const scenario of ['envelope', 'mcpSse', 'streamable']) {
    t.equal(result.app[scenario].calls, result.params.S * result.params.K, `${scenario}: every call answered`)
    t.ok(result.app[scenario].callsPerSec > 0)
  }
  t.equal(result.app.idle.opened, result.params.N, 'every idle stream opened')
  t.ok(Number.isFinite(result.app.idle.rssPerStreamKiB))
  t.type(result.targets['envelope calls/s ≥ 0.8× floor'], 'boolean', 'targets are reported, not asserted')
})
