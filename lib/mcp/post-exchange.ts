import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { END_EVENT } from '../http/sse.js'
import type { JsonRpcResponse } from '../../schemas/jsonrpc.js'
import { ErrorCodes } from '../../schemas/jsonrpc.js'
import type { Channel } from './context.js'
import { RpcError } from './rpc.js'
import { mcpGapNotice } from './session.js'
import { Lifeline } from '../lifeline.js'

export interface ExchangeOptions {
  sessionId: string
  owner: string
  expiresAt?: number
  /** The client accepts text/event-stream, so the answer may become a stream. */
  canStream: boolean
  /** How long a request may take before its answer becomes a stream rather than plain JSON. */
  jsonWindowMs: number
}

/** Separates a POST stream's tag from the store id in SSE ids: `<tag>.<id>`. */
export const STREAM_ID_SEPARATOR = '.'

/**
 * One 2025-era POST and the answer it gets. Fast answers stay plain JSON. The answer becomes a
 * resumable SSE stream of its own when a handler sends something first (progress, a client log,
 * a request to the client) or takes longer than the JSON window: a priming event, then the
 * request's messages and its response, each appended to the session log under this stream's tag
 * so a client whose stream breaks resumes it (GET + Last-Event-ID) and loses nothing.
 */
export interface Exchange {
  /** Ends the POST's requests when its client is gone for good. */
  lifeline: Lifeline
  channel (): Channel
  start (): Promise<boolean>
  finish (responses: JsonRpcResponse[]): Promise<JsonRpcResponse[] | null>
  abandon (): void
}

export function createExchange (app: FastifyInstance, reply: FastifyReply, o: ExchangeOptions): Exchange {
  // The stream's tag is drawn only if the answer becomes a stream: most answers are plain JSON.
  let tag = ''
  let mode: 'pending' | 'json' | 'sse' = 'pending'
  let opening: Promise<void> | undefined
  // Messages go to the log one after another, in the order the handlers sent them.
  let queue: Promise<unknown> = Promise.resolve()
  let timer: NodeJS.Timeout | undefined
  let decide: (streaming: boolean) => void = () => {}
  const decided = new Promise<boolean>((resolve) => { decide = resolve })
  const lifeline = new Lifeline()

  const publish = (data: string, event = 'message') =>
    app.sessions.publish(o.sessionId, { stream: tag, event, data })

  function openStream (): Promise<void> {
    if (opening) return opening
    mode = 'sse'
    clearTimeout(timer)
    decide(true)
    tag = randomBytes(6).toString('hex')
    opening = (async () => {
      // The priming event (an id, empty data) makes the stream resumable before its first message.
      const primed = await app.streams.deliver(o.sessionId, { stream: tag, event: 'prime', data: '' })
      if (primed === null) throw new Error('the session store could not open the response stream')
      const prefix = `${tag}${STREAM_ID_SEPARATOR}`
      app.streams.serve(reply, {
        sessionId: o.sessionId,
        owner: o.owner,
        expiresAt: o.expiresAt,
        lastEventId: primed,
        stream: tag,
        idPrefix: prefix,
        key: `mcp:${o.sessionId}:${tag}`,
        preamble: `id: ${prefix}${primed}\ndata: \n\n`,
        gapFrame: mcpGapNotice,
        // A client that left and did not resume within the grace time gets this request's calls aborted.
        onAbandoned: () => lifeline.abort(new Error('client disconnected'))
      })
    })()
    opening.catch(fail)
    return opening
  }

  function send (message: Record<string, unknown>): Promise<void> {
    if (mode === 'json' || !o.canStream) {
      // Without a stream there is nowhere to put it: notifications are dropped, requests refused.
      if ('id' in message) return Promise.reject(new RpcError(ErrorCodes.invalidRequest, 'the client does not accept text/event-stream, so the server cannot ask it anything'))
      return Promise.resolve()
    }
    const data = JSON.stringify(message)
    const sent = queue.then(() => openStream()).then(() => publish(data))
    queue = sent.catch(() => {})
    return sent.then(() => {})
  }

  return {
    lifeline,
    channel (): Channel {
      return {
        notify: (method, params) => send({ jsonrpc: '2.0', method, params }),
        request: (method, params, signal) => app.mcp.clientRequests.ask(o.sessionId, send, method, params, signal)
      }
    },
    /** Resolves true once the answer became a stream (the reply is hijacked), false for JSON. */
    start (): Promise<boolean> {
      if (o.canStream) {
        timer = setTimeout(() => { openStream().catch(() => {}) }, o.jsonWindowMs)
        timer.unref()
      }
      return decided
    },
    /** Delivers the responses: returns them for a JSON answer, or appends them to the stream. */
    async finish (responses: JsonRpcResponse[]): Promise<JsonRpcResponse[] | null> {
      clearTimeout(timer)
      if (mode === 'pending') {
        mode = 'json'
        decide(false)
        return responses
      }
      const done = queue.then(async () => {
        await opening
        // Responses wait out a store outage; one that cannot be stored ends the stream instead
        // (see Streams.deliver), so the client is never left on a stream that only pings.
        for (const r of responses) {
          if (await app.streams.deliver(o.sessionId, { stream: tag, event: 'message', data: JSON.stringify(r) }) === null) return
        }
        await app.streams.deliver(o.sessionId, { stream: tag, event: END_EVENT, data: '' })
      })
      queue = done.catch(() => {})
      await done
      return null
    },
    /** The client hung up before a JSON answer: nothing can reach it, so its calls stop. */
    abandon (): void {
      if (mode === 'pending') lifeline.abort(new Error('client disconnected'))
    }
  }

  function fail (err: unknown) {
    if (lifeline.aborted) return
    app.log.error({ err, sessionId: o.sessionId }, 'could not open an MCP response stream')
    lifeline.abort(new Error('stream failed'))
    // The answer was to be a stream that never opened: the client gets an error it can retry on.
    if (!reply.sent && !reply.raw.headersSent) {
      reply.code(503).header('retry-after', '1').send({ statusCode: 503, error: 'Service Unavailable', code: 'store_unavailable', message: 'session store unavailable, retry shortly' })
    }
  }
}
