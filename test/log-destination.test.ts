import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pino from 'pino'
import t from 'tap'
import { BatchedDestination, LOG_FLUSH_MS } from '../lib/logging/log-destination.js'

const run = promisify(execFile)

function scratch (t: Tap.Test): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'logdest-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'out.log')
}

const read = (file: string) => { try { return readFileSync(file, 'utf8') } catch { return '' } }
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('lines are batched, written within the delay, and at once past the size', async (t) => {
  const file = scratch(t)
  const dest = new BatchedDestination(() => pino.destination({ dest: file, sync: false, mkdir: true }), 64, 100)
  dest.write('one\n')
  dest.write('two\n')
  await sleep(30)
  t.equal(read(file), '', 'small batches wait for the timer')
  await sleep(200)
  t.equal(read(file), 'one\ntwo\n', 'written within the delay, in order')
  dest.write(`${'x'.repeat(70)}\n`)
  await sleep(30)
  t.match(read(file), /x{70}\n$/, 'a batch past the size goes out without waiting')
  dest.write('three\n')
  dest.flushSync()
  t.match(read(file), /three\n$/, 'flushSync writes at once')
})

t.test('a fatal line is on disk when the logger returns', async (t) => {
  const file = scratch(t)
  const dest = new BatchedDestination(() => pino.destination({ dest: file, sync: false, mkdir: true }), 16_384, 10_000)
  await sleep(50) // the file is opened asynchronously
  const log = pino({}, dest)
  log.info('before')
  log.fatal('the end')
  const lines = read(file).trim().split('\n').map((l) => JSON.parse(l).msg)
  t.same(lines, ['before', 'the end'])
})

t.test('lines still buffered when the process exits are written', async (t) => {
  const file = scratch(t)
  const module = new URL('../dist/lib/logging/log-destination.js', import.meta.url).href
  const script = `
    import pino from 'pino'
    import { BatchedDestination } from '${module}'
    const dest = new BatchedDestination(() => pino.destination({ dest: ${JSON.stringify(file)}, sync: false }), 16384, 60000)
    setTimeout(() => { for (let i = 0; i < 3; i++) dest.write('line ' + i + '\\n'); process.exit(0) }, 50)
  `
  await run(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('..', import.meta.url).pathname })
  t.equal(read(file), 'line 0\nline 1\nline 2\n')
  t.ok(LOG_FLUSH_MS <= 1000, 'a quiet server\'s lines wait at most a second')
})
