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
  key: string
  line: Lifeline
  done: Promise<void>
}

/**
 * Tool calls in flight, per session: the per-session concurrency bound, cancellation by
 * request id (MCP notifications/cancelled) and the wait for in-flight calls at shutdown.
 */
export function createCalls (maxPerSession: number, pin?: (sessionId: string) => () => void) {
  // A session's calls are a short array (at most maxPerSession), not a Map: a Map emptied and
  // refilled on every call reallocates its table both ways, and a session's long-lived table
  // is garbage that outlived young collections: under load the envelope's largest source of
  // old-space garbage (~200 B per call). An array keeps its backing store.
  // A session's entry also stays when its last call ends, for the same reason (the outer map's
  // table resized on every call); empty ones go in one sweep once they are more than half of it.
  // Request keys (2026-07-28) never come back and go at once.
  const bySession = new Map<string, Running[]>()
  let total = 0
  let empty = 0
  const sweepEmpty = () => {
    for (const [id, slot] of bySession) if (slot.length === 0) bySession.delete(id)
    empty = 0
  }
  const find = (slot: Running[] | undefined, key: string): Running | undefined => {
    if (slot) for (const r of slot) if (r.key === key) return r
    return undefined
  }

  /**
   * Reserves a slot synchronously (so the HTTP answer can be 429) and runs `work` in it.
   * The returned promise settles with the tool's result or error.
   */
  function start<T> (sessionId: string, requestId: string, work: (handle: CallHandle) => Promise<T>, parent?: Lifeline): Promise<T> {
    let slot = bySession.get(sessionId)
    if (slot && slot.length >= maxPerSession) {
      throw new AppError(429, 'too_many_calls', `at most ${maxPerSession} tool calls may run at once per session`)
    }
    // Ids name calls for cancellation, so two live calls may not share one (JSON-RPC requires
    // unique ids in flight anyway); a slot key the client could forge is never made up.
    if (find(slot, requestId)) {
      throw new AppError(409, 'duplicate_request_id', `request id "${requestId.slice(0, 64)}" is already in flight in this session`)
    }
    if (!slot) bySession.set(sessionId, slot = [])
    else if (slot.length === 0) empty--
    const line = new Lifeline()
    const unlink = parent?.onAbort((reason) => line.abort(reason))
    const entry: Running = { key: requestId, line, done: undefined as unknown as Promise<void> }
    const running = slot
    running.push(entry)
    total++
    // A session with a call in flight is in use: pressure eviction passes it by. Keys that are
    // no session (a request's, a task's) start with a NUL.
    const unpin = sessionId.charCodeAt(0) === 0 ? undefined : pin?.(sessionId)
    const finish = () => {
      unpin?.()
      unlink?.()
      const i = running.indexOf(entry)
      // Order does not matter: the last entry takes the freed place.
      const last = running.pop()!
      if (last !== entry) running[i] = last
      if (running.length === 0 && bySession.get(sessionId) === running) {
        if (sessionId.charCodeAt(0) === 0) bySession.delete(sessionId)
        else if (++empty > 64 && empty * 2 > bySession.size) sweepEmpty()
      }
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
      const call = find(bySession.get(sessionId), requestId)
      call?.line.abort(new ClientCancelled(reason))
      return call !== undefined
    },
    abortSession (sessionId: string, reason = 'session ended'): void {
      // A copy: an aborted call may finish (and leave the array) while we go.
      for (const call of [...bySession.get(sessionId) ?? []]) call.line.abort(new Error(reason))
    },
    inFlight: (): number => total,
    /** Sessions holding a slot entry, idle ones included until a sweep (bounded: see `empty`). */
    tracked: (): number => bySession.size,
    /** Waits for running calls up to `timeoutMs`, then aborts the rest. */
    async drain (timeoutMs: number): Promise<void> {
      const all = [...bySession.values()].flat()
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
