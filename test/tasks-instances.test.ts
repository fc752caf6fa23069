import t from 'tap'
import { Type } from '@sinclair/typebox'
import { defineTool, type DataPulseOptions } from '../index.js'
import { everything } from '../examples/everything.js'
import { spawnServer, startApp, type Running } from './helper.js'
import { everythingOptions } from './mcp-features.js'
import { redisUnavailable, startRedis, startRedisCluster } from './redis-server.js'
import { taskClient } from './tasks-client.js'
import type { Test } from './stores.js'

// Tasks are records in the store: whichever instance a poll, an answer or a cancel reaches, it
// acts on the task running on another. Both instances run here; only the creator runs the task.
const skip = redisUnavailable()
const ran = { started: 0, aborted: 0 }
const waitForAbort = defineTool({
  name: 'wait_for_abort',
  description: 'Runs until cancelled',
  input: Type.Object({}),
  execution: { taskSupport: 'optional' },
  handler: (_args, ctx) => new Promise((resolve) => {
    ran.started++
    ctx.signal.addEventListener('abort', () => { ran.aborted++; resolve('stopped') }, { once: true })
  })
})
const options = (sessions: DataPulseOptions['sessions'], extra: DataPulseOptions = {}) =>
  everythingOptions({ tools: [...everything.tools!, waitForAbort], sessions, mcp: { taskLeaseMs: 1000 }, ...extra })

async function crossInstance (t: Test, a: Running, b: Running): Promise<void> {
  const onA = taskClient(a.url)
  const onB = taskClient(b.url)
  const made = await onA.start('slow_compute', { seconds: 0.5, label: 'crossing' })
  t.equal((await onB.get(made.taskId)).status, 'working', 'B reads the task A just created')
  t.equal((await onB.until(made.taskId)).result.content[0].text, 'Computed crossing after 0.5 s', 'B polls it to completion')

  const before = { ...ran }
  const running = await onA.start('wait_for_abort')
  await onB.call('tasks/cancel', { taskId: running.taskId })
  const deadline = Date.now() + 5000
  while (ran.aborted === before.aborted && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(ran.aborted, before.aborted + 1, 'a cancel filed on B stops the handler running on A')
  t.equal((await onA.get(running.taskId)).status, 'cancelled')

  const asking = await onA.start('confirm_delete', { filename: 'crossing.txt' })
  const waiting = await onB.until(asking.taskId, (task) => task.status === 'input_required')
  const [key] = Object.keys(waiting.inputRequests)
  await onB.call('tasks/update', { taskId: asking.taskId, inputResponses: { [key]: { action: 'accept', content: { confirm: true } } } })
  t.equal((await onA.until(asking.taskId)).result.content[0].text, 'Deleted crossing.txt', "B's answer reached the handler on A")
}

t.test('tasks across two instances on one redis-server', { skip: skip ?? false }, async (t) => {
  const redis = await startRedis()
  t.teardown(redis.dispose)
  const sessions = { redisUrl: redis.url, redisKeyPrefix: 'tasks2:' }
  const a = await startApp(options(sessions, { limits: { shutdownGraceMs: 200 } }))
  const b = await startApp(options(sessions))
  t.teardown(async () => { await b.close() })
  await crossInstance(t, a, b)

  // A stopping (gracefully) fails the tasks it could not finish, at once.
  const left = await taskClient(a.url).start('slow_compute', { seconds: 60 })
  await a.close()
  const failed = await taskClient(b.url).get(left.taskId)
  t.equal(failed.status, 'failed', 'a task still running when its instance shut down is failed')
  t.match(failed.error.message, /shut down/)

  // A killed: nobody renews the lease, so the next reader fails the task within TASK_LEASE_MS.
  const child = await spawnServer(t, {
    heapMb: 256,
    // -o: the module's exported server options, which read the environment (as npm run everything).
    args: ['-o', '-l', 'warn'],
    entry: 'dist/examples/everything.js',
    env: { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'tasks2:', TASK_LEASE_MS: '1000' }
  })
  const doomed = await taskClient(child.base).start('slow_compute', { seconds: 60 })
  t.equal(doomed.resultType, 'task', 'the child made a task')
  t.equal((await taskClient(b.url).get(doomed.taskId)).status, 'working')
  child.child.kill('SIGKILL')
  const killedAt = Date.now()
  const orphan = await taskClient(b.url).until(doomed.taskId, (task) => task.status !== 'working', 5000)
  const after = Date.now() - killedAt
  t.equal(orphan.status, 'failed', 'the task of a killed instance is failed, not working forever')
  t.equal(orphan.error.code, -32603)
  t.match(orphan.error.message, /stopped before it finished/)
  // The bound is the lease (the last renewal was before the kill) plus one poll, with room for a busy machine.
  t.ok(after <= 1000 + 1500, `reported within the lease (1,000 ms) and a poll: ${after} ms`)
})

t.test('tasks across two instances on a 3-master Redis Cluster', { skip: skip ?? false }, async (t) => {
  const cluster = await startRedisCluster()
  t.teardown(cluster.dispose)
  const sessions = { redisClusterNodes: cluster.addresses, redisKeyPrefix: 'ctasks:' }
  const a = await startApp(options(sessions))
  const b = await startApp(options(sessions))
  t.teardown(async () => { await a.close(); await b.close() })
  await crossInstance(t, a, b)
})
