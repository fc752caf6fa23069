import { randomBytes } from 'node:crypto'
import type { SessionStore } from '../stores/session-store.js'
import { AppError } from '../errors.js'
import { isObject, RpcError } from './rpc.js'
import { ErrorCodes } from '../../schemas/jsonrpc.js'

/** The extension's identifier (SEP-2663), in capabilities and in `requiredCapabilities`. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks'

/** Whether client capabilities (2026-07-28: a request's own) include the tasks extension. */
export function tasksDeclared (capabilities: Record<string, unknown>): boolean {
  const extensions = capabilities.extensions
  return isObject(extensions) && isObject(extensions[TASKS_EXTENSION])
}

export type TaskStatus = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled'
const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled'])
export const isTerminal = (status: string): boolean => TERMINAL.has(status)

export interface InputRequest { method: string, params: Record<string, unknown> }

/** A task as the store holds it: what any instance needs to answer for it. */
export interface TaskRecord {
  taskId: string
  /** The principal that created it: nobody else sees it. */
  owner: string
  status: TaskStatus
  statusMessage?: string
  createdAt: string
  lastUpdatedAt: string
  ttlMs: number
  pollIntervalMs: number
  result?: Record<string, unknown>
  error?: { code: number, message: string, data?: unknown }
  /** Questions waiting for the client, by key; answered ones move to `responses`. */
  inputRequests?: Record<string, InputRequest>
  /** Answers the runner has not taken yet. */
  responses?: Record<string, unknown>
  /** Keys ever asked: a key is never reused within a task. */
  asked?: string[]
  /** The runner renews this lease; once it lapses, the runner is taken for dead. */
  leaseUntil: number
  tool: string
  /** 2025-11-25 tasks: the session whose stream gets `notifications/tasks/status` when the status changes. */
  statusTo?: string
}

export interface TasksOptions {
  ttlMs: number
  pollIntervalMs: number
  leaseMs: number
  maxResultBytes: number
}

const recordKey = (taskId: string) => `task:${taskId}`
/** Whose budget a task's bytes count against: the principal (2025-era owners also name a session). */
const principalOf = (owner: string) => owner.split('\u0000')[0]
const notFound = () => new RpcError(ErrorCodes.invalidParams, 'Failed to retrieve task: Task not found')

/** A task as the 2025-11-25 revision shows it (`ttl`, `pollInterval`; the result through tasks/result). */
export function task2025 (task: TaskRecord): Record<string, unknown> {
  const { ttlMs, pollIntervalMs, ...rest } = taskMeta(task)
  return { ...rest, ttl: ttlMs, pollInterval: pollIntervalMs }
}

/** Task ids an owner has, newest last, at most this many (2025-11-25 tasks/list). */
const INDEX_SIZE = 1000

/** A task's metadata as 2026-07-28 shows it (the extension's `Task`). */
export function taskMeta (task: TaskRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    taskId: task.taskId,
    status: task.status,
    createdAt: task.createdAt,
    lastUpdatedAt: task.lastUpdatedAt,
    ttlMs: task.ttlMs,
    pollIntervalMs: task.pollIntervalMs
  }
  if (task.statusMessage !== undefined) out.statusMessage = task.statusMessage
  return out
}

/** What the client may see of a task (DetailedTask): its metadata and what its status carries. */
export function detailed (task: TaskRecord): Record<string, unknown> {
  const out = taskMeta(task)
  if (task.status === 'completed') out.result = task.result
  else if (task.status === 'failed') out.error = task.error
  else if (task.status === 'input_required') out.inputRequests = task.inputRequests ?? {}
  return out
}

/**
 * Tasks in the session store, so every instance answers for every task: created before they are
 * acknowledged, changed only by compare-and-set (a cancel and a runner's last write cannot both
 * win), and kept for their TTL. A runner holds a lease it renews; a reader that finds the lease
 * lapsed marks the task failed, so a task whose instance died never stays `working`.
 */
export function createTasks (store: SessionStore, opts: TasksOptions) {
  /**
   * A record lives for its TTL from creation; a running task's outlives its lease (the runner
   * renews it), and a result that lands after the TTL is still kept a while (a minute, or the TTL).
   */
  const keepMs = (task: TaskRecord) => Math.max(Date.parse(task.createdAt) + task.ttlMs - Date.now(),
    isTerminal(task.status) ? Math.min(task.ttlMs, 60_000) : opts.leaseMs * 2)

  async function read (taskId: string): Promise<{ task: TaskRecord, version: number } | null> {
    const stored = await store.getRecord(recordKey(taskId))
    return stored ? { task: JSON.parse(stored.value) as TaskRecord, version: stored.version } : null
  }

  /** Applies `change` until it lands; `change` returns null to leave the task as it is. */
  async function update (taskId: string, change: (task: TaskRecord) => TaskRecord | null): Promise<TaskRecord | null> {
    for (;;) {
      const current = await read(taskId)
      if (!current) return null
      const next = change(structuredClone(current.task))
      if (!next) return current.task
      next.lastUpdatedAt = new Date().toISOString()
      if (await store.putRecord(recordKey(taskId), JSON.stringify(next), current.version, keepMs(next), principalOf(next.owner))) {
        if (next.statusTo !== undefined && next.status !== current.task.status) await announce(next, next.statusTo)
        return next
      }
    }
  }

  /**
   * 2025-11-25 `notifications/tasks/status` (optional, and sent by the instance that made the
   * change, so exactly once): into the session's log, which its stream on any instance delivers.
   * Best effort: a client that misses it still polls, as the spec asks of it.
   */
  async function announce (task: TaskRecord, sessionId: string): Promise<void> {
    const data = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/tasks/status', params: task2025(task) })
    await store.publish(sessionId, { event: 'message', data }).catch(() => {})
  }

  /** A lapsed lease: the instance running the task is gone. */
  function orphaned (task: TaskRecord): TaskRecord | null {
    if (isTerminal(task.status) || task.leaseUntil > Date.now()) return null
    task.status = 'failed'
    task.statusMessage = 'the server instance running this task stopped'
    task.error = { code: ErrorCodes.internalError, message: 'the server instance running this task stopped before it finished' }
    delete task.inputRequests
    return task
  }

  return {
    options: opts,

    /**
     * Creates a task and returns once any instance can read it. `ttlMs`: what the client asked
     * for (2025-11-25), honoured up to the server's own; `indexed`: listed for its owner;
     * `statusTo`: the 2025-era session told of each status change.
     */
    async create (owner: string, tool: string, ttlMs?: number, indexed = false, statusTo?: string): Promise<TaskRecord> {
      const now = new Date().toISOString()
      const task: TaskRecord = {
        taskId: randomBytes(16).toString('base64url'),
        owner,
        status: 'working',
        createdAt: now,
        lastUpdatedAt: now,
        ttlMs: ttlMs !== undefined && Number.isInteger(ttlMs) && ttlMs > 0 ? Math.min(ttlMs, opts.ttlMs) : opts.ttlMs,
        pollIntervalMs: opts.pollIntervalMs,
        leaseUntil: Date.now() + opts.leaseMs,
        tool,
        ...(statusTo !== undefined ? { statusTo } : {})
      }
      let created: boolean
      try {
        created = await store.putRecord(recordKey(task.taskId), JSON.stringify(task), 0, keepMs(task), principalOf(owner))
      } catch (err) {
        if (err instanceof AppError) throw new RpcError(ErrorCodes.overloaded, err.message)
        throw err
      }
      if (!created) throw new RpcError(ErrorCodes.internalError, 'task id collision')
      if (indexed) await this.index(owner, task.taskId)
      return task
    },

    async index (owner: string, taskId: string): Promise<void> {
      for (;;) {
        const stored = await store.getRecord(`tasks-of:${owner}`)
        const ids = stored ? JSON.parse(stored.value) as string[] : []
        ids.push(taskId)
        if (ids.length > INDEX_SIZE) ids.splice(0, ids.length - INDEX_SIZE)
        // Not charged to the principal (at most INDEX_SIZE ids): its task was admitted already.
        if (await store.putRecord(`tasks-of:${owner}`, JSON.stringify(ids), stored?.version ?? 0, opts.ttlMs)) return
      }
    },

    /** The owner's tasks still kept, oldest first (2025-11-25 tasks/list). */
    async list (owner: string): Promise<TaskRecord[]> {
      const stored = await store.getRecord(`tasks-of:${owner}`)
      const ids = stored ? JSON.parse(stored.value) as string[] : []
      const found = await Promise.all(ids.map((id) => read(id)))
      return found.filter((f): f is { task: TaskRecord, version: number } => f !== null && f.task.owner === owner).map((f) => f.task)
    },

    /** The task as its owner may see it; unknown, expired and foreign tasks alike are -32602. */
    async get (taskId: unknown, owner: string): Promise<TaskRecord> {
      if (typeof taskId !== 'string' || taskId === '') throw new RpcError(ErrorCodes.invalidParams, 'params.taskId must be a task id')
      const found = await read(taskId)
      if (!found || found.task.owner !== owner) throw notFound()
      if (orphaned(structuredClone(found.task))) return (await update(taskId, orphaned))!
      return found.task
    },

    update,

    /** Tells listeners on every instance (subscriptions/listen with taskIds) that the task changed. */
    async changed (taskId: string): Promise<void> {
      await store.broadcast(JSON.stringify({ kind: 'task-status', taskId }))
    },

    /** Ends a task as cancelled unless it already ended; the runner stops when it hears of it. */
    async cancel (taskId: unknown, owner: string): Promise<void> {
      const task = await this.get(taskId, owner)
      await update(task.taskId, (t) => {
        if (isTerminal(t.status)) return null
        t.status = 'cancelled'
        t.statusMessage = 'cancelled by the client'
        delete t.inputRequests
        return t
      })
      await store.broadcast(JSON.stringify({ kind: 'task', taskId: task.taskId }))
    },

    /** Hands answers to outstanding questions to the runner; unknown or answered keys are ignored. */
    async respond (taskId: unknown, owner: string, responses: unknown): Promise<void> {
      if (!isObject(responses)) throw new RpcError(ErrorCodes.invalidParams, 'params.inputResponses must be an object')
      const task = await this.get(taskId, owner)
      let moved = false
      await update(task.taskId, (t) => {
        const pending = t.inputRequests ?? {}
        const keys = Object.keys(responses).filter((key) => Object.hasOwn(pending, key))
        if (keys.length === 0 || isTerminal(t.status)) return null
        t.responses ??= {}
        for (const key of keys) {
          t.responses[key] = responses[key]
          delete pending[key]
        }
        if (Object.keys(pending).length === 0 && t.status === 'input_required') t.status = 'working'
        moved = true
        return t
      })
      if (moved) await store.broadcast(JSON.stringify({ kind: 'task', taskId: task.taskId }))
    }
  }
}

export type Tasks = ReturnType<typeof createTasks>
