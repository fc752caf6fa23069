import { randomBytes } from 'node:crypto'
import type { SessionStore } from '../stores/session-store.js'
import { ErrorCodes } from '../../schemas/jsonrpc.js'
import { RpcError, isObject } from './rpc.js'

/**
 * Requests the server sends to a 2025-era client (elicitation, sampling, roots) and the answers
 * the client POSTs back. Both sides meet in the session store, so an answer POSTed to another
 * instance (behind a load balancer, with Redis) still reaches the waiting call.
 */
export function createClientRequests (store: SessionStore, defaultTimeoutMs: number) {
  const pendingKey = (id: string) => `mcp:pending:${id}`
  const answerKey = (id: string) => `mcp:answer:${id}`

  /**
   * Sends `method` through `send` and waits for the client's answer, at most `timeoutMs`.
   * `signal` aborting (the call was cancelled) withdraws the request with notifications/cancelled.
   */
  async function ask (
    sessionId: string,
    send: (message: Record<string, unknown>) => Promise<void>,
    method: string,
    params: Record<string, unknown>,
    signal: AbortSignal,
    timeoutMs = defaultTimeoutMs
  ): Promise<unknown> {
    if (signal.aborted) throw new RpcError(ErrorCodes.invalidRequest, 'the call was cancelled')
    // Unguessable ids: a client can answer only what it was asked.
    const id = `srv-${randomBytes(12).toString('base64url')}`
    await store.setValue(sessionId, pendingKey(id), method)
    let unwatch = () => {}
    let timer: NodeJS.Timeout | undefined
    let onAbort = () => {}
    try {
      return await new Promise<unknown>((resolve, reject) => {
        let checking = false
        let again = false
        const check = async () => {
          if (checking) { again = true; return }
          checking = true
          try {
            do {
              again = false
              const answer = await store.takeValue(sessionId, answerKey(id))
              if (answer !== null) return settle(JSON.parse(answer) as Record<string, unknown>)
            } while (again)
          } catch (err) {
            reject(err)
          } finally {
            checking = false
          }
        }
        const settle = (message: Record<string, unknown>) => {
          if (isObject(message.error)) {
            const e = message.error
            reject(new RpcError(typeof e.code === 'number' ? e.code : ErrorCodes.internalError,
              `the client answered ${method} with an error: ${typeof e.message === 'string' ? e.message : 'no message'}`))
          } else resolve(message.result)
        }
        unwatch = store.watch(sessionId, () => { check().catch(() => {}) })
        const withdraw = (reason: string, error: RpcError) => {
          reject(error)
          store.takeValue(sessionId, pendingKey(id))
            .then(() => send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason } }))
            .catch(() => {})
        }
        onAbort = () => withdraw('the call was cancelled', new RpcError(ErrorCodes.invalidRequest, `${method}: the call was cancelled`))
        signal.addEventListener('abort', onAbort, { once: true })
        timer = setTimeout(() => withdraw('timed out', new RpcError(ErrorCodes.internalError,
          `${method}: the client did not answer within ${timeoutMs} ms`)), timeoutMs)
        send({ jsonrpc: '2.0', id, method, params }).catch(reject)
      })
    } finally {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      unwatch()
    }
  }

  /**
   * Takes the client's answer to one of our requests. An answer to a request that was never
   * sent, or was already answered or withdrawn, is refused (the caller answers HTTP 400).
   */
  async function answer (sessionId: string, message: { id: string | number, result?: unknown, error?: unknown }): Promise<void> {
    const id = String(message.id)
    const method = id.startsWith('srv-') ? await store.takeValue(sessionId, pendingKey(id)) : null
    if (method === null) {
      throw new RpcError(ErrorCodes.invalidRequest, `no request with id "${id.slice(0, 64)}" is waiting for an answer in this session`)
    }
    await store.setValue(sessionId, answerKey(id), JSON.stringify(message))
    await store.wake(sessionId)
  }

  return { ask, answer }
}

export type ClientRequests = ReturnType<typeof createClientRequests>
