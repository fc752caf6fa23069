import type { FastifyReply } from 'fastify'
import type { SessionStore } from '../stores/session-store.js'
import { startSse } from '../http/sse.js'
import { isObject, rpcError, RpcError } from './rpc.js'
import { missingExtension, TASKS_EXTENSION } from './task-methods.js'
import type { JsonRpcId } from '../../schemas/jsonrpc.js'
import { ErrorCodes } from '../../schemas/jsonrpc.js'

const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId'

interface Filter {
  toolsListChanged?: boolean
  promptsListChanged?: boolean
  resourcesListChanged?: boolean
  resourceSubscriptions?: string[]
  /** Tasks (the tasks extension) whose every status change the client wants as notifications/tasks. */
  taskIds?: string[]
}

/** How listeners read a task: only its owner's, as tasks/get would show it (null: none such). */
export type TaskLookup = (taskId: string, owner: string) => Promise<Record<string, unknown> | null>

interface Listener {
  id: JsonRpcId
  owner: string
  filter: Filter
  write: (payload: unknown) => void
  end: (graceful: boolean) => void
}

const MAX_URIS = 100

/**
 * 2026-07-28 `subscriptions/listen` streams: long-lived POST responses that carry only the
 * change notifications their client opted in to. Changes arrive through the store's broadcast,
 * so a change published on any instance reaches listeners held by every instance.
 */
export function createListeners (store: SessionStore, opts: { max: number, maxPerPrincipal: number, pingIntervalMs: number, capabilities: () => Record<string, unknown>, task?: TaskLookup }) {
  const live = new Set<Listener>()
  const perOwner = new Map<string, number>()

  const unsubscribe = store.onBroadcast((raw) => {
    let change: { kind?: string, list?: string, uri?: string, taskId?: string }
    try { change = JSON.parse(raw) } catch { return }
    if ((change.kind === 'task' || change.kind === 'task-status') && typeof change.taskId === 'string') {
      taskChanged(change.taskId)
      return
    }
    for (const l of live) {
      if (change.kind === 'list' && l.filter[`${change.list}ListChanged` as keyof Filter] === true) {
        l.write({ jsonrpc: '2.0', method: `notifications/${change.list}/list_changed`, params: { _meta: { [SUBSCRIPTION_ID]: l.id } } })
      } else if (change.kind === 'resource' && typeof change.uri === 'string' && l.filter.resourceSubscriptions?.includes(change.uri)) {
        l.write({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { _meta: { [SUBSCRIPTION_ID]: l.id }, uri: change.uri } })
      }
    }
  })

  /** A task changed (on any instance): its listeners get the task as tasks/get shows it now. */
  function taskChanged (taskId: string): void {
    for (const l of live) {
      if (!l.filter.taskIds?.includes(taskId) || !opts.task) continue
      opts.task(taskId, l.owner).then((task) => {
        if (task) l.write({ jsonrpc: '2.0', method: 'notifications/tasks', params: { ...task, _meta: { [SUBSCRIPTION_ID]: l.id } } })
      }, () => {})
    }
  }

  const pinger = setInterval(() => { for (const l of live) l.write(null) }, opts.pingIntervalMs)
  pinger.unref()

  /**
   * What the server will honour of what the client asked: only what it has to offer, and of
   * tasks only those the client owns (the tasks extension, which it must have declared).
   */
  async function honoured (asked: unknown, owner: string, declaresTasks: boolean): Promise<Filter> {
    if (!isObject(asked)) throw new RpcError(ErrorCodes.invalidParams, 'params.notifications must be an object')
    const caps = opts.capabilities() as Record<string, { listChanged?: boolean, subscribe?: boolean } | undefined>
    const out: Filter = {}
    for (const kind of ['tools', 'prompts', 'resources'] as const) {
      if (asked[`${kind}ListChanged`] === true && caps[kind]?.listChanged) out[`${kind}ListChanged`] = true
    }
    const uris = asked.resourceSubscriptions
    if (uris !== undefined) {
      if (!Array.isArray(uris) || uris.length > MAX_URIS || !uris.every((u) => typeof u === 'string')) {
        throw new RpcError(ErrorCodes.invalidParams, `resourceSubscriptions must be at most ${MAX_URIS} URIs`)
      }
      if (caps.resources?.subscribe) out.resourceSubscriptions = uris as string[]
    }
    const taskIds = asked.taskIds
    if (taskIds !== undefined) {
      if (!Array.isArray(taskIds) || taskIds.length > MAX_URIS || !taskIds.every((u) => typeof u === 'string')) {
        throw new RpcError(ErrorCodes.invalidParams, `taskIds must be at most ${MAX_URIS} task ids`)
      }
      if (!declaresTasks) throw missingExtension(TASKS_EXTENSION)
      const lookup = opts.task
      const owned = lookup ? await Promise.all((taskIds as string[]).map(async (id) => (await lookup(id, owner).catch(() => null)) ? id : null)) : []
      out.taskIds = owned.filter((id): id is string => id !== null)
    }
    return out
  }

  return {
    async listen (reply: FastifyReply, o: { id: JsonRpcId, params: Record<string, unknown>, principal: string, expiresAt?: number, declaresTasks?: boolean }) {
      let filter: Filter
      try {
        filter = await honoured(o.params.notifications, o.principal, o.declaresTasks === true)
      } catch (err) {
        const e = err as RpcError
        return reply.code(e.httpStatus ?? 200).send(rpcError(o.id, e.code, e.message, e.data))
      }
      // A full budget ends the oldest listener (its client sees a clean end and may listen again)
      // rather than refusing the newcomer: with one shared token, a refusal would lock out every
      // client behind whoever holds the listeners. Sockets are bounded per address beforehand.
      if (opts.maxPerPrincipal > 0 && (perOwner.get(o.principal) ?? 0) >= opts.maxPerPrincipal) {
        for (const l of live) if (l.owner === o.principal) { l.end(true); break }
      }
      if (live.size >= opts.max) live.values().next().value?.end(true)
      const owned = perOwner.get(o.principal) ?? 0
      const raw = startSse(reply)
      let open = true
      const listener: Listener = {
        id: o.id,
        owner: o.principal,
        filter,
        write (payload) {
          if (!open) return
          raw.write(payload === null ? ':\n\n' : `data: ${JSON.stringify(payload)}\n\n`)
        },
        end (graceful) {
          if (!open) return
          if (graceful) listener.write({ jsonrpc: '2.0', id: o.id, result: { resultType: 'complete', _meta: { [SUBSCRIPTION_ID]: o.id } } })
          cleanup()
          raw.end()
        }
      }
      const cleanup = () => {
        if (!open) return
        open = false
        live.delete(listener)
        const n = (perOwner.get(o.principal) ?? 1) - 1
        if (n > 0) perOwner.set(o.principal, n)
        else perOwner.delete(o.principal)
      }
      raw.once('close', cleanup)
      // A listener lives no longer than the token that opened it.
      if (o.expiresAt !== undefined) {
        const expiry = setTimeout(() => listener.end(true), Math.min(Math.max(0, o.expiresAt - Date.now()), 2 ** 31 - 1))
        expiry.unref()
        raw.once('close', () => clearTimeout(expiry))
      }
      live.add(listener)
      perOwner.set(o.principal, owned + 1)
      listener.write({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { _meta: { [SUBSCRIPTION_ID]: o.id }, notifications: filter } })
      return reply
    },
    count: () => live.size,
    /** Ends every stream with its final result, so clients see a clean end. */
    endAll (): void {
      for (const l of [...live]) l.end(true)
    },
    close (): void {
      clearInterval(pinger)
      unsubscribe()
    }
  }
}

export type Listeners = ReturnType<typeof createListeners>
