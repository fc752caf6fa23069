import t from 'tap'
import { createMemoryStore } from '../lib/stores/memory-store.js'
import { NO_EVENTS } from '../lib/stores/event-log.js'
import { resolveConfig } from '../config.js'

const newStore = () => createMemoryStore(resolveConfig({ sessions: { maxSessionsPerPrincipal: 100 } }).sessions)

t.test('one, two and three watchers of a session are each woken once per event, and unwatch stops each', async (t) => {
  const store = newStore()
  t.teardown(() => store.close())
  await store.open('s', 'p')
  const woken = [0, 0, 0]
  const stops = woken.map((_, i) => store.watch('s', () => { woken[i]++ }))
  await store.publish('s', { data: '1' })
  t.same(woken, [1, 1, 1], 'all three woken')
  stops[1]()
  stops[1]() // twice is harmless
  await store.publish('s', { data: '2' })
  t.same(woken, [2, 1, 2], 'the second no longer')
  stops[0]()
  await store.wake('s')
  t.same(woken, [2, 1, 3], 'the last one alone, by wake')
  stops[2]()
  await store.publish('s', { data: '3' })
  t.same(woken, [2, 1, 3], 'none after all unwatched')
})

t.test('a watcher that unwatches itself or watches another while woken does not disturb the rest', async (t) => {
  const store = newStore()
  t.teardown(() => store.close())
  await store.open('s', 'p')
  const calls: string[] = []
  const stopA = store.watch('s', () => { calls.push('a'); stopA() })
  store.watch('s', () => {
    calls.push('b')
    if (calls.length < 3) store.watch('s', () => calls.push('c'))
  })
  await store.publish('s', { data: '1' })
  t.same(calls, ['a', 'b'], 'both woken once; the one added while waking waits for the next event')
  await store.publish('s', { data: '2' })
  t.same(calls, ['a', 'b', 'b', 'c'], 'a is gone, c is woken from now on')
})

t.test('a watched session is in use: the sweep keeps it and eviction passes it over', async (t) => {
  const store = createMemoryStore(resolveConfig({ sessions: { maxSessionsPerPrincipal: 1 } }).sessions)
  t.teardown(() => store.close())
  await store.open('watched', 'p')
  const stop = store.watch('watched', () => {})
  await t.rejects(store.open('other', 'p'), { statusCode: 429 }, 'the only session is watched: nothing to evict')
  stop()
  await store.open('other', 'p')
  t.equal(await store.get('watched'), null, 'once unwatched it is evicted for the new one')
})

t.test('sessions get their own event log at their first event; the shared empty one stays empty', async (t) => {
  const store = newStore()
  t.teardown(() => store.close())
  await store.open('a', 'p')
  await store.open('b', 'p')
  t.same(await store.read('a', null, 10), { events: [], gap: false, last: null, more: false }, 'a new session reads as empty')
  t.equal(await store.head('a'), '0')
  t.equal(await store.publish('a', { data: 'x' }), '1')
  t.equal(await store.publish('b', { data: 'y' }), '1', 'ids of another session are its own')
  t.same((await store.read('a', null, 10)).events, [{ id: '1', data: 'x' }])
  t.same((await store.read('b', null, 10)).events, [{ id: '1', data: 'y' }])
  t.equal(NO_EVENTS.length, 0)
  t.equal(NO_EVENTS.next, 1, 'the shared empty log was never written')
  t.throws(() => { (NO_EVENTS as { next: number }).next = 5 }, TypeError, 'and cannot be')
})
