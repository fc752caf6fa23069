import { AUTH, request } from './helper.js'

export const TASKS = 'io.modelcontextprotocol/tasks'
const NAMED: Record<string, string> = { 'tools/call': 'name', 'tasks/get': 'taskId', 'tasks/update': 'taskId', 'tasks/cancel': 'taskId' }
let ids = 0

export interface RpcAnswer { status: number, result?: any, error?: { code: number, message: string, data?: any } }

/**
 * A raw 2026-07-28 client that follows the tasks extension's text: every request carries its
 * `_meta` (with the extension unless `declare` is false) and the routing headers.
 */
export function taskClient (base: string, opts: { headers?: Record<string, string>, declare?: boolean } = {}) {
  const capabilities = opts.declare === false ? { elicitation: {} } : { elicitation: {}, extensions: { [TASKS]: {} } }
  async function call (method: string, params: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<RpcAnswer> {
    const name = NAMED[method] ? params[NAMED[method]] : undefined
    const res = await request('POST', `${base}/mcp`, {
      headers: {
        ...(opts.headers ?? AUTH),
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': method,
        ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
        ...headers
      },
      body: {
        jsonrpc: '2.0',
        id: ++ids,
        method,
        params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': capabilities } }
      }
    })
    // An answer that sent something first is an SSE stream whose last event is the response.
    const body = res.headers['content-type']?.startsWith('text/event-stream')
      ? JSON.parse(res.text.trim().split('\n').filter((l) => l.startsWith('data: ')).pop()!.slice(6))
      : res.json()
    return { status: res.status, result: body.result, error: body.error }
  }
  return {
    call,
    /** tools/call's result (a task or a plain result); throws on a protocol error. */
    async start (tool: string, args: Record<string, unknown> = {}): Promise<any> {
      const answer = await call('tools/call', { name: tool, arguments: args })
      if (answer.error) throw new Error(`${tool}: ${answer.error.code} ${answer.error.message}`)
      return answer.result
    },
    async get (taskId: string): Promise<any> {
      const answer = await call('tasks/get', { taskId })
      if (answer.error) throw new Error(`tasks/get: ${answer.error.code} ${answer.error.message}`)
      return answer.result
    },
    /** Polls tasks/get until `done` holds of the task (by default: a terminal status). */
    async until (taskId: string, done: (task: any) => boolean = (task) => ['completed', 'failed', 'cancelled'].includes(task.status), timeoutMs = 10_000): Promise<any> {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const task = await this.get(taskId)
        if (done(task)) return task
        if (Date.now() > deadline) throw new Error(`task ${taskId} stayed ${task.status} for ${timeoutMs} ms`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }
}
