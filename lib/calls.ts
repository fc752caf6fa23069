import { AppError } from './errors.js'
import { Lifeline } from './lifeline.js'

/** The abort reason of a call its client cancelled: such a call gets no response. */
export class ClientCancelled extends Error {
  override name = 'ClientCancelled'
}

/** The abort reason of calls still running when the shutdown grace ran out. */
export class ShuttingDown extends Error {
  override name = 'ShuttingDown'
}

/**
 * Calls that belong to one HTTP request rather than a session (2026-07-28 is stateless) get a
 * slot map of their own under this prefix, which no session id can start with: no client shares
 * another's slots or request-id space.
 */
export const REQUEST_KEY = '\u0000request:'
let requests = 0
export const requestKey = (): string => `${REQUEST_KEY}${++requests}`

/** A running call's lifeline: cancelled by the client, its session's end, shutdown or its tool's timeout. */
export type CallHandle = Lifeline

interface Running {
  line: Lifeline
  done: Promise<void>
}

/**
 * Tool calls in flight, per session: the per-session concurrency bound, cancellation by
 * request id (MCP notifications/cancelled) and the wait for in-flight calls at shutdown.
 */
export function createCalls (maxPerSession: number, pin?: (sessionId: string) => () => void) {
  const bySession = new Map<string, Map<string, Running>>()
  let total = 0

  /**
   * Reserves a slot synchronously (so the HTTP answer can be 429) and runs `work` in it.
   * The returned promise settles with the tool's result or error.
   */
  function start<T> (sessionId: string, requestId: string, work: (handle: CallHandle) => Promise<T>, parent?: Lifeline): Promise<T> {
    let running = bySession.get(sessionId)
    if (running && running.size >= maxPerSession) {
      throw new AppError(429, 'too_many_calls', `at most ${maxPerSession} tool calls may run at once per session`)
    }
    // Ids name calls for cancellation, so two live calls may not share one (JSON-RPC requires
    // unique ids in flight anyway); a slot key the client could forge is never made up.
    if (running?.has(requestId)) {
      throw new AppError(409, 'duplicate_request_id', `request id "${requestId.slice(0, 64)}" is already in flight in this session`)
    }
    if (!running) bySession.set(sessionId, running = new Map())
    const line = new Lifeline()
    const unlink = parent?.onAbort((reason) => line.abort(reason))
    const key = requestId
    const slot = running
    const entry: Running = { line, done: undefined as unknown as Promise<void> }
    slot.set(key, entry)
    total++
    // A session with a call in flight is in use: pressure eviction passes it by. Keys that are
    // no session (a request's, a task's) start with a NUL.
    const unpin = sessionId.charCodeAt(0) === 0 ? undefined : pin?.(sessionId)
    const finish = () => {
      unpin?.()
      unlink?.()
      slot.delete(key)
      if (slot.size === 0 && bySession.get(sessionId) === slot) bySession.delete(sessionId)
      total--
    }
    let result: Promise<T>
    try {
      result = work(line)
    } catch (err) {
      result = Promise.reject(err)
    }
    entry.done = result.then(finish, finish)
    return result
  }

  return {
    start,
    cancel (sessionId: string, requestId: string, reason = 'cancelled by client'): boolean {
      const call = bySession.get(sessionId)?.get(requestId)
      call?.line.abort(new ClientCancelled(reason))
      return call !== undefined
    },
    abortSession (sessionId: string, reason = 'session ended'): void {
      for (const call of bySession.get(sessionId)?.values() ?? []) call.line.abort(new Error(reason))
    },
    inFlight: (): number => total,
    /** Waits for running calls up to `timeoutMs`, then aborts the rest. */
    async drain (timeoutMs: number): Promise<void> {
      const all = [...bySession.values()].flatMap((m) => [...m.values()])
      if (all.length === 0) return
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
      await Promise.race([Promise.all(all.map((c) => c.done)), timedOut])
      clearTimeout(timer)
      for (const c of all) c.line.abort(new ShuttingDown('server shutting down'))
      await Promise.all(all.map((c) => c.done))
    }
  }
}

export type Calls = ReturnType<typeof createCalls>
