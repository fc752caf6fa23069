import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { CallToolResultSchema, ElicitRequestSchema, TaskStatusNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { AUTH } from './helper.js'
import { everythingOptions } from './mcp-features.js'
import { eachStore, type Test } from './stores.js'

// The official v1 SDK client drives 2025-11-25 tasks (its experimental tasks API): it asks for a
// task, polls tasks/get, answers the task's questions that tasks/result carries, and reads the
// result there. (The v2 client has no tasks API yet; 2026-07-28 tasks are tested raw, tasks.test.ts.)
async function connect (t: Test, url: string) {
  const asked: unknown[] = []
  const client = new Client({ name: 'v1-tasks', version: '1.0.0' }, {
    capabilities: { elicitation: {}, tasks: { list: {}, cancel: {} } },
    defaultTaskPollInterval: 50
  })
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    asked.push(req.params)
    return { action: 'accept', content: { confirm: true } }
  })
  // notifications/tasks/status on the session's stream (the SDK checks their shape).
  const statuses: Array<{ taskId: string, status: string, ttl: unknown, pollInterval?: number }> = []
  client.setNotificationHandler(TaskStatusNotificationSchema, (n) => { statuses.push(n.params) })
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: AUTH } }))
  t.teardown(() => client.close())
  return { client, asked, statuses }
}

async function stream (client: Client, name: string, args: Record<string, unknown>) {
  const seen: Array<{ type: string, status?: string, taskId?: string }> = []
  let result: any
  let error: any
  for await (const m of client.experimental.tasks.callToolStream({ name, arguments: args }, CallToolResultSchema, { task: { ttl: 60_000 } })) {
    if (m.type === 'taskCreated' || m.type === 'taskStatus') seen.push({ type: m.type, status: m.task.status, taskId: m.task.taskId })
    else if (m.type === 'result') result = m.result
    else error = m.error
  }
  return { seen, result, error }
}

eachStore('the v1 SDK client runs 2025-11-25 tasks end to end', async (t, start) => {
  const srv = await start(everythingOptions())
  t.teardown(srv.close)
  const { client, asked, statuses } = await connect(t, srv.url)
  const caps = client.getServerCapabilities()!
  t.same(caps.tasks, { list: {}, cancel: {}, requests: { tools: { call: {} } } }, 'the server offers tasks for tools/call')

  const slow = await stream(client, 'slow_compute', { seconds: 0.3, label: 'sdk' })
  t.equal(slow.seen[0].type, 'taskCreated', 'the SDK saw a task made')
  t.equal(slow.result.content[0].text, 'Computed sdk after 0.3 s', 'and read its result through tasks/result')
  t.equal(slow.result._meta['io.modelcontextprotocol/related-task'].taskId, slow.seen[0].taskId)

  const confirm = await stream(client, 'confirm_delete', { filename: 'sdk.txt' })
  t.ok(confirm.seen.some((s) => s.status === 'input_required'), 'the task asked for input')
  t.equal(asked.length, 1, "the client's elicitation handler answered the task's question")
  t.equal((asked[0] as any)._meta['io.modelcontextprotocol/related-task'].taskId, confirm.seen[0].taskId, 'the question names its task')
  t.equal(confirm.result.content[0].text, 'Deleted sdk.txt', 'the answer reached the handler')
  // Status changes reach the session's stream (optional in the spec, sent once per change).
  const of = (taskId: string) => statuses.filter((s) => s.taskId === taskId).map((s) => s.status)
  const deadline = Date.now() + 5000
  while ((!of(slow.seen[0].taskId!).includes('completed') || !of(confirm.seen[0].taskId!).includes('completed')) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.same(of(slow.seen[0].taskId!), ['completed'], 'notifications/tasks/status: the finished task, once')
  t.same(of(confirm.seen[0].taskId!), ['input_required', 'working', 'completed'], 'and every status a questioning task went through')
  const sample = statuses.find((s) => s.taskId === slow.seen[0].taskId)!
  t.equal(sample.ttl, 60_000, 'in the 2025-11-25 shape (ttl, pollInterval)')
  t.type(sample.pollInterval, 'number')

  const failing = await stream(client, 'failing_job', {})
  t.equal(failing.result.isError, true, 'a tool error is the result of a completed task')
  const broken = await stream(client, 'protocol_error_job', {})
  t.ok(broken.error, 'a protocol error reaches the SDK as an error')

  await t.rejects(client.callTool({ name: 'failing_job', arguments: {} }), 'a required task refuses a plain call')

  // A raw request shows the CreateTaskResult as it is on the wire (the SDK fills in `content`).
  const created = await client.request({ method: 'tools/call', params: { name: 'slow_compute', arguments: { seconds: 60 }, task: { ttl: 5000 } } }, CallToolResultSchema.passthrough()) as any
  t.equal(created.task.status, 'working', 'tools/call with params.task answers the task')
  const { tasks } = await client.experimental.tasks.listTasks()
  const running = tasks.find((task) => task.taskId === created.task.taskId)
  t.ok(running, 'tasks/list has the running task')
  t.equal(running!.ttl, 5000, 'the ttl the client asked for (below the server’s) is honoured')
  const cancelled = await client.experimental.tasks.cancelTask(running!.taskId)
  t.equal(cancelled.status, 'cancelled', 'tasks/cancel answers the cancelled task')
  t.equal((await client.experimental.tasks.getTask(running!.taskId)).status, 'cancelled')
  await t.rejects(client.experimental.tasks.cancelTask(running!.taskId), { code: -32602 }, 'a finished task cannot be cancelled again')
  t.ok(tasks.length >= 5, `tasks/list lists the session's tasks (${tasks.length})`)
})

eachStore('2025-era tasks belong to their session', async (t, start) => {
  const srv = await start(everythingOptions())
  t.teardown(srv.close)
  const a = await connect(t, srv.url)
  const b = await connect(t, srv.url)
  const mine = await stream(a.client, 'slow_compute', { seconds: 0 })
  const taskId = mine.seen[0].taskId!
  await t.rejects(b.client.experimental.tasks.getTask(taskId), { code: -32602 }, 'another session (same token) does not find it')
  t.equal((await b.client.experimental.tasks.listTasks()).tasks.length, 0, 'nor lists it')
  t.equal((await a.client.experimental.tasks.getTask(taskId)).status, 'completed', 'its own session does')
})
