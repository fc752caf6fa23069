import { SseClient, post } from './helper.js'
import { everythingOptions } from './mcp-features.js'
import { eachStore } from './stores.js'

// The simple envelope runs a call as a task on request: the 202 names the task (already in the
// store), the stream carries task_status frames beside the usual progress and tool_result, and
// get_task / cancel_task work on it from any instance.
eachStore('envelope tasks: call_tool with task: true, get_task, cancel_task', async (t, start) => {
  const srv = await start(everythingOptions())
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/events?session_id=env-tasks`)
  t.teardown(() => sse.close())
  const send = (body: Record<string, unknown>, session = 'env-tasks') => post(srv.url, `/message?session_id=${session}`, body)
  const frames = (id: string) => sse.events.map((e) => e.json()).filter((f) => f.request_id === id)
  const frame = async (id: string, type: string) => {
    await sse.until(() => frames(id).some((f) => f.type === type), 5000, `${type} for ${id}`)
    return frames(id).find((f) => f.type === type)
  }

  const ack = await send({ type: 'call_tool', request_id: 'c1', task: true, data: { name: 'slow_compute', arguments: { seconds: 0.3, label: 'env' } } })
  t.equal(ack.status, 202)
  const taskId = ack.json().task_id
  t.type(taskId, 'string', 'the 202 names the task')
  const created = await frame('c1', 'task_status')
  t.equal(created.data.taskId, taskId)
  t.equal(created.data.status, 'working', 'the first frame is the task, working')
  t.equal((await frame('c1', 'progress')).data.message, 'computing env')
  t.equal((await frame('c1', 'tool_result')).data, 'Computed env after 0.3 s', 'then the result, as for any call')
  await send({ type: 'get_task', request_id: 'g1', data: { task_id: taskId } })
  const polled = await frame('g1', 'task_status')
  t.equal(polled.data.status, 'completed')
  t.equal(polled.data.result.content[0].text, 'Computed env after 0.3 s', 'get_task carries the result of a finished task')

  const long = (await send({ type: 'call_tool', request_id: 'c2', task: true, data: { name: 'slow_compute', arguments: { seconds: 60 } } })).json().task_id
  await send({ type: 'cancel_task', request_id: 'x2', data: { task_id: long } })
  t.equal((await frame('x2', 'task_status')).data.status, 'cancelled', 'cancel_task answers the cancelled task')
  t.equal((await frame('c2', 'error')).code, 'cancelled', 'and the call ends with its cancelled error frame')

  const refused = await send({ type: 'call_tool', request_id: 'c3', task: true, data: { name: 'greet', arguments: { name: 'x' } } })
  t.equal(refused.status, 400)
  t.equal(refused.json().code, 'not_a_task', 'a tool without task support cannot run as one')
  await send({ type: 'get_task', request_id: 'g2', data: { task_id: 'nope' } })
  t.equal((await frame('g2', 'error')).code, 'unknown_task')
  const other = await SseClient.open(`${srv.url}/events?session_id=env-other`)
  t.teardown(() => other.close())
  await send({ type: 'get_task', request_id: 'g3', data: { task_id: taskId } }, 'env-other')
  const foreign = await other.frameFor('g3')
  t.equal(foreign.code, 'unknown_task', "another session does not find this session's task")
})
