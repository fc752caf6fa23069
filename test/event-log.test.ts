import t from 'tap'
import { EventLog } from '../lib/stores/event-log.js'

/** Every retained event as [seq, data, event, stream]. */
function contents (log: EventLog): Array<[number, string, string | undefined, string]> {
  return Array.from({ length: log.length }, (_, i) => [log.first + i, log.data(i), log.event(i), log.stream(i)])
}

t.test('events come back as written, across chunks, with contiguous seqs', async (t) => {
  const log = new EventLog()
  const written: Array<[number, string, string | undefined, string]> = []
  const sizes: number[] = []
  for (let i = 0; i < 2000; i++) {
    // Sizes vary so events straddle chunk ends; some are not ASCII.
    const data = JSON.stringify({ i, text: 'é☃😀'.repeat(i % 7), pad: 'x'.repeat((i * 37) % 300) })
    const seq = log.next
    const size = log.push(data, i % 3 === 0 ? 'message' : undefined, i % 5 === 0 ? `s${i}` : '')
    if (size !== Buffer.byteLength(data)) sizes.push(i)
    written.push([seq, data, i % 3 === 0 ? 'message' : undefined, i % 5 === 0 ? `s${i}` : ''])
  }
  t.same(sizes, [], 'push returns the UTF-8 size')
  t.same(contents(log), written)
  t.equal(log.bytes, written.reduce((n, [, d]) => n + Buffer.byteLength(d), 0))

  let freed = 0
  for (let i = 0; i < 1500; i++) freed += log.shift()
  t.equal(log.first, 1501)
  t.equal(log.next, 2001)
  t.same(contents(log), written.slice(1500), 'the rest is intact after the oldest chunks are released')
  t.equal(freed + log.bytes, written.reduce((n, [, d]) => n + Buffer.byteLength(d), 0), 'shift returns what push counted')
})

t.test('an event larger than any chunk, and an empty one', async (t) => {
  const log = new EventLog()
  const big = 'y'.repeat(200_000)
  log.push('small', undefined, '')
  log.push(big, 'message', '')
  log.push('', undefined, '')
  t.same(contents(log), [[1, 'small', undefined, ''], [2, big, 'message', ''], [3, '', undefined, '']])
})

t.test('a log emptied on every delivery keeps working from one buffer', async (t) => {
  const log = new EventLog()
  const wrong: string[] = []
  for (let i = 0; i < 5000; i++) {
    log.push(`{"n":${i}}`, 'message', '')
    if (log.data(0) !== `{"n":${i}}`) wrong.push(log.data(0))
    log.shift()
    if (log.length !== 0) wrong.push(`length ${log.length}`)
  }
  t.same(wrong, [], 'every event read back as written, and the log emptied')
  t.equal(log.first, 5001)
  t.equal(log.next, 5001)
  t.equal(log.bytes, 0)
  log.push('after', undefined, 'x')
  t.same(contents(log), [[5001, 'after', undefined, 'x']])
})

t.test('pushes and shifts in any order: the ring wraps and widens with the oldest event first', async (t) => {
  const log = new EventLog()
  const model: Array<[number, string, string | undefined, string]> = []
  const wrongSizes: number[] = []
  let seed = 7
  const random = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  for (let step = 0; step < 5000; step++) {
    if (model.length > 0 && random() < 0.45) {
      const [, data] = model.shift()!
      if (log.shift() !== Buffer.byteLength(data)) wrongSizes.push(step)
    } else {
      const data = `event ${step} ${'y'.repeat(Math.floor(random() * 400))}`
      // Plain events only at first (no name or stream rings yet), then mixed.
      const event = step > 300 && step % 4 === 0 ? 'message' : undefined
      const stream = step > 300 && step % 3 === 0 ? `r${step % 11}` : ''
      model.push([log.next, data, event, stream])
      log.push(data, event, stream)
    }
    if (step % 250 === 0) t.same(contents(log), model, `the same events after step ${step}`)
  }
  t.same(contents(log), model, 'and at the end')
  t.same(wrongSizes, [], 'every shift returned its event\'s size')
  t.equal(log.first, model[0]?.[0] ?? log.next)
})
