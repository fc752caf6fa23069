import t from 'tap'
import { createMemoryStore } from '../lib/stores/memory-store.js'
import { resolveConfig } from '../config.js'
import type { SessionStore } from '../lib/stores/session-store.js'
import { SseClient, post, request, startApp } from './helper.js'

t.test('opening and closing 1000 streams leaves no listener, watcher or timer behind', async (t) => {
  // A real memory store, instrumented to count the watchers streams register.
  const base = createMemoryStore(resolveConfig({ sessions: { maxSessionsPerPrincipal: 10_000 } }).sessions)
  let watchers = 0
  const store: SessionStore = {
    ...base,
    watch (sessionId, onWake) {
      watchers++
      const stop = base.watch(sessionId, onWake)
      return () => { watchers--; stop() }
    }
  }
  const srv = await startApp({ store })
  t.teardown(srv.close)

  const baseline = {
    server: srv.app.server.listenerCount('request') + srv.app.server.listenerCount('connection'),
    handles: process.getActiveResourcesInfo().length
  }
  for (let batch = 0; batch < 20; batch++) {
    const clients = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      SseClient.open(`${srv.url}/events?session_id=cycle-${i % 10}-${batch}`)))
    t.same(clients.map((c) => c.status).filter((s) => s !== 200), [], `batch ${batch}: every stream opened`)
    for (const c of clients) c.close()
  }
  // Closing is asynchronous on the server side; wait until every stream is gone.
  const deadline = Date.now() + 10_000
  let ready = (await request('GET', `${srv.url}/ready`)).json()
  while ((ready.streams !== 0 || watchers !== 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    ready = (await request('GET', `${srv.url}/ready`)).json()
  }
  t.equal(ready.streams, 0, 'no live stream is tracked')
  t.equal(watchers, 0, 'every store watcher was removed')
  const connections = await new Promise<number>((resolve, reject) =>
    srv.app.server.getConnections((err, n) => err ? reject(err) : resolve(n)))
  t.ok(connections <= 1, `no SSE connection left open (${connections})`)
  t.equal(srv.app.server.listenerCount('request') + srv.app.server.listenerCount('connection'), baseline.server,
    'no listener added to the server')
  t.ok(process.getActiveResourcesInfo().length <= baseline.handles + 2,
    `no timers or sockets accumulate (${baseline.handles} → ${process.getActiveResourcesInfo().length})`)

  // The sessions still work after the churn.
  const sse = await SseClient.open(`${srv.url}/events?session_id=cycle-0-0`)
  t.teardown(() => sse.close())
  await post(srv.url, '/message?session_id=cycle-0-0', { type: 'call_tool', request_id: 'after', data: { name: 'get_time' } })
  t.equal((await sse.frameFor('after')).type, 'tool_result')
})

t.test('app.close() ends open streams instead of waiting for them', async (t) => {
  const srv = await startApp()
  const sse = await SseClient.open(`${srv.url}/events?session_id=closing`)
  const started = Date.now()
  await srv.close()
  await sse.until((c) => c.ended, 5000, 'the stream to end')
  t.ok(Date.now() - started < 5000, 'close did not hang')
  t.ok(sse.comments.some((c) => /shutting down/.test(c)), 'the client was told why')
})
