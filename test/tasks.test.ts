import t from 'tap'
import { Type } from '@sinclair/typebox'
import { defineTool } from '../index.js'
import { AUTH, SseClient, eventually, startApp, startWithTwoPrincipals } from './helper.js'
import { everything } from '../examples/everything.js'
import { everythingOptions } from './mcp-features.js'
import { eachStore } from './stores.js'
import { taskClient } from './tasks-client.js'

// Tools that let a test see what the task did to its handler.
const seen = { aborted: 0 }
const probeTools = [
  defineTool({
    name: 'wait_for_abort',
    description: 'Runs until cancelled, counting cancellations',
    input: Type.Object({}),
    execution: { taskSupport: 'optional' },
    handler: (_args, ctx) => new Promise((resolve) => {
      ctx.signal.addEventListener('abort', () => { seen.aborted++; resolve('stopped') }, { once: true })
    })
  }),
  defineTool({
    name: 'big_result',
    description: 'Returns more text than a task may keep',
    input: Type.Object({ chars: Type.Integer() }),
    execution: { taskSupport: 'optional' },
    handler: ({ chars }) => 'x'.repeat(chars)
  })
]
const options = (mcp: Record<string, unknown> = {}) => everythingOptions({ tools: [...everything.tools!, ...probeTools], mcp: { taskLeaseMs: 600, ...mcp } })

eachStore('tasks: lifecycle, results, errors, cancel, questions', async (t, start) => {
  const srv = await start(options())
  t.teardown(srv.close)
  const client = taskClient(srv.url)

  const discover = await client.call('server/discover')
  t.same(discover.result.capabilities.extensions, { 'io.modelcontextprotocol/tasks': {} }, 'the extension is advertised')
  const listed = (await client.call('tools/list')).result.tools
  t.same(listed.find((tool: any) => tool.name === 'failing_job').execution, { taskSupport: 'required' }, 'tools/list says which tools run as tasks')
  t.notOk(listed.find((tool: any) => tool.name === 'greet').execution, 'a plain tool says nothing')

  const created = await client.start('slow_compute', { seconds: 0.3, label: 'lifecycle' })
  t.equal(created.resultType, 'task')
  t.same(Object.keys(created).sort(), ['_meta', 'createdAt', 'lastUpdatedAt', 'pollIntervalMs', 'resultType', 'status', 'taskId', 'ttlMs'], 'CreateTaskResult is flat: the task, the server info, nothing else')
  t.ok(created.taskId.length >= 22, 'the task id carries 128 random bits')
  const working = await client.get(created.taskId)
  t.equal(working.status, 'working', 'readable at once, still working')
  const progressed = await client.until(created.taskId, (task) => task.statusMessage !== undefined || task.status !== 'working')
  t.equal(progressed.statusMessage, 'computing lifecycle', 'ctx.progress became the status message')
  t.notOk('result' in working, 'no result while working')
  const done = await client.until(created.taskId)
  t.equal(done.status, 'completed')
  t.equal(done.resultType, 'complete')
  t.equal(done.result.content[0].text, 'Computed lifecycle after 0.3 s', 'the result is inlined')

  const toolError = await client.until((await client.start('failing_job')).taskId)
  t.equal(toolError.status, 'completed', 'a tool error is a completed task…')
  t.equal(toolError.result.isError, true, '…whose result is an error')
  const protocol = await client.until((await client.start('protocol_error_job')).taskId)
  t.equal(protocol.status, 'failed', 'a protocol error fails the task')
  t.same(protocol.error, { code: -32603, message: 'the job broke down' })
  t.notOk('result' in protocol)

  const before = seen.aborted
  const long = await client.start('wait_for_abort')
  const ack = await client.call('tasks/cancel', { taskId: long.taskId })
  t.same(Object.keys(ack.result).sort(), ['_meta', 'resultType'], 'the cancel ack is empty')
  t.equal((await client.get(long.taskId)).status, 'cancelled', 'cancelled at once')
  await eventually(() => seen.aborted === before + 1)
  t.equal(seen.aborted, before + 1, "the handler's signal fired")
  t.equal((await client.get(long.taskId)).status, 'cancelled', 'the handler ending afterwards changes nothing')
  t.equal((await client.call('tasks/cancel', { taskId: long.taskId })).result.resultType, 'complete', 'cancelling again is the same ack')

  const asking = await client.start('multi_input')
  const both = await client.until(asking.taskId, (task) => Object.keys(task.inputRequests ?? {}).length === 2)
  t.equal(both.status, 'input_required')
  const [first, second] = Object.keys(both.inputRequests)
  t.equal(both.inputRequests[first].method, 'elicitation/create')
  await client.call('tasks/update', { taskId: asking.taskId, inputResponses: { [first]: { action: 'accept', content: { name: 'Ada' } }, nonsense: {} } })
  const half = await client.get(asking.taskId)
  t.same(Object.keys(half.inputRequests), [second], 'the answered question is gone, the other waits')
  await client.call('tasks/update', { taskId: asking.taskId, inputResponses: { [second]: { action: 'accept', content: { name: 'Grace' } } } })
  t.equal((await client.until(asking.taskId)).result.content[0].text, 'Got Ada and Grace', 'both answers reached the handler')

  const bad = await client.call('tasks/update', { taskId: asking.taskId, inputResponses: 'yes' })
  t.equal(bad.error?.code, -32602, 'inputResponses must be an object')
  t.equal((await client.call('tasks/get', { taskId: 'no-such-task' })).error?.code, -32602, 'an unknown task is -32602')
  const mismatch = await client.call('tasks/get', { taskId: created.taskId }, { 'mcp-name': 'another' })
  t.equal(mismatch.status, 400)
  t.equal(mismatch.error?.code, -32020, 'Mcp-Name must be the task id')
  t.equal((await client.call('tasks/list')).error?.code, -32601, 'there is no tasks/list')
  t.equal((await client.call('tasks/result', { taskId: created.taskId })).error?.code, -32601, 'nor tasks/result')
})

eachStore('tasks: a client that did not declare the extension', async (t, start) => {
  const srv = await start(options())
  t.teardown(srv.close)
  const plain = taskClient(srv.url, { declare: false })
  const sync = await plain.start('slow_compute', { seconds: 0 })
  t.equal(sync.resultType, 'complete', 'an optional task runs as a plain call')
  t.equal(sync.content[0].text, 'Computed result after 0 s')
  const required = await plain.call('tools/call', { name: 'failing_job', arguments: {} })
  t.equal(required.error?.code, -32021, 'a required task refuses the client')
  t.same(required.error?.data, { requiredCapabilities: { extensions: { 'io.modelcontextprotocol/tasks': {} } } })
  for (const method of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
    t.equal((await plain.call(method, { taskId: 'x', inputResponses: {} })).error?.code, -32021, `${method} needs the extension`)
  }
})

eachStore('tasks: bounds (result size, tasks running at once, TTL)', async (t, start) => {
  const srv = await start(options({ taskMaxResultBytes: 2048, maxRunningTasks: 1, taskTtlMs: 1500 }))
  t.teardown(srv.close)
  const client = taskClient(srv.url)
  const big = await client.until((await client.start('big_result', { chars: 5000 })).taskId)
  t.equal(big.status, 'failed', 'a result larger than a task may keep fails it')
  t.match(big.error.message, /larger than the 2048 bytes/)
  const running = await client.start('wait_for_abort')
  const refused = await client.call('tools/call', { name: 'slow_compute', arguments: { seconds: 0 } })
  t.equal(refused.error?.code, -32000, 'one task more than MAX_RUNNING_TASKS is refused, to try later')
  await client.call('tasks/cancel', { taskId: running.taskId })
  // The cancelled handler gives its slot back when it has stopped (with Redis, once the cancel is heard).
  let next = await client.call('tools/call', { name: 'slow_compute', arguments: { seconds: 0 } })
  for (let i = 0; i < 100 && next.error?.code === -32000; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    next = await client.call('tools/call', { name: 'slow_compute', arguments: { seconds: 0 } })
  }
  const small = await client.until(next.result.taskId)
  t.equal(small.status, 'completed', 'a slot is free again once the task ended')
  await new Promise((resolve) => setTimeout(resolve, 1700))
  t.equal((await client.call('tasks/get', { taskId: small.taskId })).error?.code, -32602, 'past its TTL the task is gone')
})

t.test('tasks: the MRTR rounds come first, then the task (taskStart: handler)', async (t) => {
  const srv = await startApp(options())
  t.teardown(srv.close)
  const client = taskClient(srv.url)
  const round = await client.start('test_tool_with_task')
  t.equal(round.resultType, 'input_required')
  t.notOk('taskId' in round)
  t.equal((await client.start('test_tool_with_task')).resultType, 'input_required', 'without the answer it asks again')
  const answered = await client.call('tools/call', {
    name: 'test_tool_with_task', arguments: {}, requestState: round.requestState, inputResponses: { user_name: { action: 'accept', content: { name: 'Alice' } } }
  })
  t.equal(answered.result.resultType, 'task', 'with the answer, the call goes on as a task')
  t.notOk('requestState' in answered.result)
  t.equal((await client.until(answered.result.taskId)).result.content[0].text, 'Hello, Alice!')
})

t.test('tasks: another principal never sees a task', async (t) => {
  const { srv, alice, bob } = await startWithTwoPrincipals(options())
  t.teardown(srv.close)
  const mine = taskClient(srv.url, { headers: alice })
  const theirs = taskClient(srv.url, { headers: bob })
  const task = await mine.start('wait_for_abort')
  for (const method of ['tasks/get', 'tasks/cancel', 'tasks/update']) {
    const answer = await theirs.call(method, { taskId: task.taskId, inputResponses: {} })
    t.equal(answer.error?.code, -32602, `${method} of another's task: not found`)
  }
  t.equal((await mine.get(task.taskId)).status, 'working', 'the owner still has it, uncancelled')
  await mine.call('tasks/cancel', { taskId: task.taskId })
})

t.test('tasks: a bad execution declaration fails at registration', async (t) => {
  const tool = (execution: unknown) => defineTool({ name: 'x', description: 'x', input: Type.Object({}), execution: execution as never, handler: () => 'x' })
  await t.rejects(startApp({ tools: [tool({ taskSupport: 'sometimes' })] }), /execution.taskSupport must be "optional" or "required"/)
  await t.rejects(startApp({ tools: [tool({ taskSupport: 'optional', taskStart: 'later' })] }), /execution.taskStart must be "call" or "handler"/)
})

eachStore('tasks: status notifications on subscriptions/listen', async (t, start) => {
  const srv = await start(options())
  t.teardown(srv.close)
  const client = taskClient(srv.url)
  const task = await client.start('slow_compute', { seconds: 0.4, label: 'heard' })
  const listen = (taskIds: string[], extensions: Record<string, unknown> | undefined) => SseClient.request('POST', `${srv.url}/mcp`, {
    ...AUTH, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen'
  }, JSON.stringify({
    jsonrpc: '2.0',
    id: 'L',
    method: 'subscriptions/listen',
    params: {
      notifications: { taskIds },
      _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': extensions ? { extensions } : {} }
    }
  }))
  const stream = await listen([task.taskId, 'someone-elses'], { 'io.modelcontextprotocol/tasks': {} })
  t.teardown(() => stream.close())
  await stream.until((c) => c.events.length >= 1, 5000, 'the acknowledgement')
  t.same(stream.events[0].json().params.notifications, { taskIds: [task.taskId] }, 'only the tasks the client owns are honoured')
  await stream.until((c) => c.events.some((e) => e.json().params?.status === 'completed'), 5000, 'the completed task')
  const notes = stream.events.slice(1).map((e) => e.json())
  t.ok(notes.every((n) => n.method === 'notifications/tasks' && n.params.taskId === task.taskId), 'notifications/tasks for that task only')
  t.equal(notes.at(-1).params.result.content[0].text, 'Computed heard after 0.4 s', 'the last one carries the result, as tasks/get would')
  t.equal(notes.at(-1).params._meta['io.modelcontextprotocol/subscriptionId'], 'L')

  const refused = await listen([task.taskId], undefined)
  t.equal(refused.status, 400, 'asking for task notifications without declaring the extension: -32021')
  refused.close()
})

t.test("tasks: a principal's task bytes have a budget; another principal's tasks go on (memory store)", async (t) => {
  const { srv, alice, bob } = await startWithTwoPrincipals({ ...options(), sessions: { maxBytesPerPrincipal: 4096 } })
  t.teardown(srv.close)
  const mine = taskClient(srv.url, { headers: alice })
  const theirs = taskClient(srv.url, { headers: bob })
  let made = 0
  let refused: Awaited<ReturnType<typeof mine.call>> | undefined
  for (let i = 0; i < 100 && !refused; i++) {
    const answer = await mine.call('tools/call', { name: 'slow_compute', arguments: { seconds: 0 } })
    if (answer.error) refused = answer
    else made++
  }
  t.ok(made > 0 && refused, `alice made ${made} tasks, then one more was refused`)
  t.equal(refused?.error?.code, -32000, 'refused as overloaded, to try later')
  t.match(refused?.error?.message, /this principal holds as many tasks as it may/)
  const other = await theirs.call('tools/call', { name: 'slow_compute', arguments: { seconds: 0 } })
  t.equal(other.result?.resultType, 'task', "bob's task is made all the same")
})
