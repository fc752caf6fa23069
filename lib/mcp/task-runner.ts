import type { FastifyInstance } from 'fastify'
import { ShuttingDown } from '../calls.js'
import type { Lifeline } from '../lifeline.js'
import type { Channel } from './context.js'
import { RpcError } from './rpc.js'
import { isTerminal, task2025, taskMeta, type TaskRecord, type Tasks } from './tasks.js'
import { ErrorCodes } from '../../schemas/jsonrpc.js'

/** Prefix of a task's call slot: tasks outlive the request that started them. */
export const TASK_KEY = '\u0000task:'

/** The abort reason of a task the client cancelled (through any instance). */
export class TaskCancelled extends Error {
  override name = 'TaskCancelled'
}

export interface RunnerOptions {
  timeoutMs: number
  maxRunning: number
  maxResultBytes: number
}

/** The progress token of a task whose client gave none: progress then only sets the status message. */
export const TASK_TOKEN = '\u0000task'

/**
 * What a tools/call that made a task answers (CreateTaskResult): in 2026-07-28 the task itself,
 * flat; in 2025-11-25 under `task`.
 */
export function createTaskResult (task: TaskRecord, era: '2025' | '2026'): Record<string, unknown> {
  return era === '2025' ? { task: task2025(task) } : { resultType: 'task', ...taskMeta(task) }
}

/**
 * One task running on this instance: its handler's questions become the task's `inputRequests`,
 * its progress messages the task's status message. It renews its lease, takes the answers other
 * instances file in the store, and stops when the task was cancelled.
 */
class TaskRun {
  line: Lifeline | undefined
  readonly waiting = new Map<string, { resolve: (value: unknown) => void, reject: (err: unknown) => void }>()
  readonly channel: Channel
  readonly #tasks: Tasks
  readonly #leaseMs: number

  /** `forward`: where a 2025-era task's notifications go (its session's stream). */
  constructor (readonly task: TaskRecord, tasks: Tasks, forward?: (method: string, params: Record<string, unknown>) => Promise<void>) {
    this.#tasks = tasks
    this.#leaseMs = tasks.options.leaseMs
    this.channel = {
      notify: async (method, params) => {
        const ownToken = params.progressToken === TASK_TOKEN
        if (forward && !(method === 'notifications/progress' && ownToken)) {
          const meta = { 'io.modelcontextprotocol/related-task': { taskId: task.taskId } }
          await forward(method, { ...params, _meta: meta })
        }
        if (method !== 'notifications/progress' || typeof params.message !== 'string') return
        const message = params.message
        await tasks.update(task.taskId, (t) => isTerminal(t.status) ? null : Object.assign(t, { statusMessage: message }))
        await tasks.changed(task.taskId)
      },
      request: (method, params, signal, key) => this.#ask(method, params, signal, key)
    }
  }

  #ask (method: string, params: Record<string, unknown>, signal: AbortSignal, wanted: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let key = wanted
      const onAbort = () => { this.waiting.delete(key); reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
      const settle = (fn: (v: unknown) => void) => (value: unknown) => { signal.removeEventListener('abort', onAbort); fn(value) }
      this.#tasks.update(this.task.taskId, (t) => {
        if (isTerminal(t.status)) return null
        // A key names one question for the task's whole life (the spec forbids reuse).
        const asked = t.asked ?? []
        key = asked.includes(wanted) ? `${wanted}~${asked.length}` : wanted
        t.asked = [...asked, key]
        t.inputRequests = { ...t.inputRequests, [key]: { method, params } }
        t.status = 'input_required'
        return t
      }).then(() => {
        this.waiting.set(key, { resolve: settle(resolve), reject: settle(reject) })
        return this.#tasks.changed(this.task.taskId)
      }).catch(settle(reject))
    })
  }

  /** Renews the lease, takes answers filed for this run's questions, stops if the task ended. */
  async refresh (): Promise<void> {
    let taken: Record<string, unknown> = {}
    const task = await this.#tasks.update(this.task.taskId, (t) => {
      taken = {}
      if (isTerminal(t.status)) return null
      t.leaseUntil = Date.now() + this.#leaseMs
      for (const key of this.waiting.keys()) {
        if (t.responses && Object.hasOwn(t.responses, key)) {
          taken[key] = t.responses[key]
          delete t.responses[key]
        }
      }
      return t
    })
    if (!task || isTerminal(task.status)) this.line?.abort(new TaskCancelled('the task was cancelled'))
    for (const [key, value] of Object.entries(taken)) {
      this.waiting.get(key)?.resolve(value)
      this.waiting.delete(key)
    }
  }

  /**
   * Stores the call's outcome: completed with its result, or failed with its protocol error (the
   * runner then frees its slot and announces the change).
   */
  async finish (outcome: Promise<Record<string, unknown>>, maxResultBytes: number): Promise<void> {
    let end: Partial<TaskRecord>
    try {
      const result = await outcome
      end = JSON.stringify(result).length > maxResultBytes
        ? failed(ErrorCodes.internalError, `the result is larger than the ${maxResultBytes} bytes a task may keep`)
        : { status: 'completed', result }
    } catch (err) {
      end = err instanceof RpcError ? failed(err.code, err.message, err.data) : failed(ErrorCodes.internalError, 'internal error')
    }
    // A call the shutdown cut short did not fail as a tool: the server stopped under it.
    if (this.line?.reason instanceof ShuttingDown) end = failed(ErrorCodes.internalError, 'the server shut down before the task finished')
    for (const { reject } of this.waiting.values()) reject(new TaskCancelled('the task ended'))
    this.waiting.clear()
    await this.#tasks.update(this.task.taskId, (t) => {
      if (isTerminal(t.status)) return null
      delete t.inputRequests
      delete t.responses
      delete t.statusMessage
      return Object.assign(t, end)
    })
  }
}

function failed (code: number, message: string, data?: unknown): Partial<TaskRecord> {
  return { status: 'failed', statusMessage: message, error: data === undefined ? { code, message } : { code, message, data } }
}

/**
 * Runs tool calls as tasks on this instance. Every task's state is in the store (lib/mcp/tasks.ts);
 * this keeps the runs themselves: their leases, and the broadcast that tells them of an answer or
 * a cancel filed on any instance.
 */
export function createTaskRunner (app: FastifyInstance, tasks: Tasks, opts: RunnerOptions) {
  const runs = new Map<string, TaskRun>()
  // Outcomes being filed: shutdown waits for them, so the store is closed only after.
  const filing = new Set<Promise<void>>()
  const refresh = (run: TaskRun) => { run.refresh().catch((err: unknown) => app.log.warn({ err, taskId: run.task.taskId }, 'task refresh failed')) }
  const unlisten = app.sessions.onBroadcast((raw) => {
    // Cancels and answers ("task"), not the status changes runs announce themselves ("task-status").
    if (!raw.startsWith('{"kind":"task",')) return
    const run = runs.get((JSON.parse(raw) as { taskId: string }).taskId)
    if (run) refresh(run)
  })
  const renew = setInterval(() => { for (const run of runs.values()) refresh(run) }, Math.floor(tasks.options.leaseMs / 3))
  renew.unref()

  return {
    timeoutMs: opts.timeoutMs,
    running: (): number => runs.size,

    /**
     * Makes a task for a call and returns its run once the task is in the store; `outcome` (the
     * call's result or protocol error, settled later) is filed into the task by `settle`.
     */
    async open (owner: string, tool: string, o: { ttlMs?: number, indexed?: boolean, statusTo?: string, forward?: (method: string, params: Record<string, unknown>) => Promise<void> } = {}): Promise<TaskRun> {
      if (runs.size >= opts.maxRunning) {
        throw new RpcError(ErrorCodes.overloaded, `this server runs at most ${opts.maxRunning} tasks at once; try again later`)
      }
      const run = new TaskRun(await tasks.create(owner, tool, o.ttlMs, o.indexed, o.statusTo), tasks, o.forward)
      runs.set(run.task.taskId, run)
      return run
    },

    settle (run: TaskRun, outcome: Promise<Record<string, unknown>>): void {
      const { taskId } = run.task
      const filed = run.finish(outcome, opts.maxResultBytes)
        // The slot is free once the end is stored, before it is announced (a store round trip
        // on Redis): a client that reads the task as ended may start its next one at once.
        .finally(() => { runs.delete(taskId) })
        .then(() => tasks.changed(taskId))
        .catch((err: unknown) => app.log.error({ err, taskId }, 'could not file the outcome of a task'))
        .finally(() => { filing.delete(filed) })
      filing.add(filed)
    },

    /** Waits for outcomes still being filed (the calls themselves are drained before). */
    async drain (): Promise<void> {
      await Promise.all([...filing])
    },

    close (): void {
      clearInterval(renew)
      unlisten()
    }
  }
}

export type TaskRunner = ReturnType<typeof createTaskRunner>
export type { TaskRun }
