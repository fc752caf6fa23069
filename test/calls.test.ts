import t from 'tap'
import { AppError } from '../lib/errors.js'
import { createCalls, requestKey } from '../lib/calls.js'

t.test('slots: the per-session bound, unique ids, cancellation, and idle sessions swept', async (t) => {
  const calls = createCalls(2)
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const first = calls.start('s', 'a', async () => { await gate; return 1 })
  const second = calls.start('s', 'b', async (line) => new Promise((resolve) => line.onAbort(() => resolve('aborted'))))
  t.throws(() => calls.start('s', 'c', async () => 3), new AppError(429, 'too_many_calls', 'at most 2 tool calls may run at once per session'), 'a third call in one session: 429')
  const other = calls.start('other', 'x', async () => { await gate; return 0 })
  t.equal(calls.cancel('s', 'b'), true, 'a running call is found by its id')
  t.equal(await second, 'aborted')
  await new Promise((resolve) => setImmediate(resolve))
  t.throws(() => calls.start('s', 'a', async () => 0), { statusCode: 409, code: 'duplicate_request_id' }, 'an id in flight: 409')
  t.equal(calls.inFlight(), 2, 'a, and the call of "other"')
  release()
  t.equal(await first, 1)
  t.equal(await other, 0)

  // Sessions calling one tool after another keep their entry; thousands of finished ones do not pile up.
  for (let i = 0; i < 5000; i++) await calls.start(`session-${i}`, '1', async () => i)
  for (let i = 0; i < 100; i++) await calls.start(requestKey(), '1', async () => i)
  t.equal(calls.inFlight(), 0)
  t.ok(calls.tracked() <= 200, `idle sessions are swept (${calls.tracked()} entries after 5,100 sessions)`)
  t.ok(calls.tracked() > 0, 'a session between two calls keeps its entry')
})
