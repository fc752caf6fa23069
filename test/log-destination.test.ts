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

/** Polls until `done` holds (a loaded machine writes late); the last value for the assertion. */
async function until<T> (value: () => T, done: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  let v = value()
  while (!done(v) && Date.now() < deadline) {
    await sleep(10)
    v = value()
  }
  return v
}

/** A file sink that also notes when each batch was handed to it, and resolves once it is open. */
function spiedSink (file: string) {
  const handed: number[] = []
  let sink!: ReturnType<typeof pino.destination>
  const make = () => {
    sink = pino.destination({ dest: file, sync: false, mkdir: true })
    const write = sink.write.bind(sink)
    sink.write = (chunk: string) => { handed.push(performance.now()); return write(chunk) }
    return sink
  }
  const ready = () => new Promise<void>((resolve) => { if (sink.fd >= 0) resolve(); else sink.once('ready', () => resolve()) })
  return { make, handed, ready }
}

t.test('lines are batched, written within the delay, and at once past the size', async (t) => {
  const file = scratch(t)
  const spy = spiedSink(file)
  const dest = new BatchedDestination(spy.make, 64, 100)
  await spy.ready()
  const wrote = performance.now()
  dest.write('one\n')
  dest.write('two\n')
  t.equal(spy.handed.length, 0, 'small batches wait for the timer')
  t.equal(await until(() => read(file), (v) => v === 'one\ntwo\n'), 'one\ntwo\n', 'then written, in order, as one batch')
  t.equal(spy.handed.length, 1)
  // Timers fire late on a busy machine, never early: the batch waited for its delay.
  t.ok(spy.handed[0] - wrote >= 99, `handed over after the delay (${(spy.handed[0] - wrote).toFixed(0)} ms)`)
  dest.write(`${'x'.repeat(70)}\n`)
  t.equal(spy.handed.length, 2, 'a batch past the size goes out without waiting')
  t.match(await until(() => read(file), (v) => /x{70}\n$/.test(v)), /x{70}\n$/)
  dest.write('three\n')
  dest.flushSync()
  t.match(read(file), /three\n$/, 'flushSync writes at once')
})

t.test('a fatal line is on disk when the logger returns', async (t) => {
  const file = scratch(t)
  const spy = spiedSink(file)
  const dest = new BatchedDestination(spy.make, 16_384, 10_000)
  await spy.ready() // the file is opened asynchronously: wait for it, not for a time
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
