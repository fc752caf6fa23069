import type { ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify'
import { AppError } from '../lib/errors.js'
import { END_EVENT, formatEvent, startSse, waitForDrain, type SseEvent } from '../lib/http/sse.js'
import type { SessionStore } from '../lib/stores/session-store.js'
import { createDeliver } from '../lib/http/deliver.js'
import type { SseOptions } from '../schemas/options.js'
import { clock } from '../lib/clock.js'

export interface ServeOptions {
  sessionId: string
  owner: string
  /** Resume after this event id; null starts after the last frame any stream delivered. */
  lastEventId: string | null
  /** Raw SSE text written once before any event (e.g. the MCP `endpoint` event). */
  preamble?: string
  /** The frame that tells a client retention dropped events it had not seen. */
  gapFrame?: () => SseEvent
  /** Streams with the same key replace each other; defaults to the session id. */
  key?: string
  /** Which of the session's streams to deliver ("" by default: the main one). */
  stream?: string
  /** Written before each store id in `id:`, so a Last-Event-ID names the stream it came from. */
  idPrefix?: string
  onClose?: () => void
  /** Called when the client left and did not come back in time (default: abort the session's calls). */
  onAbandoned?: () => void
  /** When the caller's credential expires: the stream ends then, and the client reconnects with a fresh one. */
  expiresAt?: number
  /** Writes a JSON-RPC response after a notification apart from it (see NOTICE). */
  separateResponses?: boolean
}

export { END_EVENT, EVENT_ID } from '../lib/http/sse.js'

interface LiveStream {
  readonly sessionId: string
  readonly raw: ServerResponse
  readonly owner: string
  readonly key: string
  replaced: boolean
  lastWrite: number
  end: (comment?: string) => void
  cleanup: () => void
}

const kStream = Symbol('datapulse.stream')
type SseResponse = ServerResponse & { [kStream]?: LiveStream }
/** Every stream's socket 'close' listener: the stream is found on the response. */
function onRawClose (this: SseResponse): void { this[kStream]?.cleanup() }

// A stream's five flags, in one small integer: five boolean fields would be five pointers.
const CLOSED = 1
const DIRTY = 2
const PUMPING = 4
const REPLACED = 8
const STORE_TROUBLE = 16

const READ_BATCH = 100
const STORE_RETRY_MS = 500

/**
 * How a JSON-RPC notification's data starts (we serialize `jsonrpc` first, then `method` for a
 * notification, `id` for a request or response). The official SDKs and others built like them
 * handle a notification one microtask after parsing it but a response at once, so a progress
 * notification and the result read in one chunk lose the progress ("unknown token"). On streams
 * that carry many requests' messages (HTTP+SSE), a response after a notification is therefore
 * written only once the notification reached the socket, NOTICE_GAP_MS passed and the event loop
 * polled for I/O once more (a timer, then setImmediate: a client in this very process reads too).
 */
const JSONRPC = '{"jsonrpc":"2.0",'
const NOTICE = '{"jsonrpc":"2.0","method"'
const NOTICE_GAP_MS = 2

function apart (raw: ServerResponse, since: number): Promise<void> {
  return new Promise((resolve) => {
    const wait = () => setTimeout(() => setImmediate(resolve), Math.max(0, NOTICE_GAP_MS - (performance.now() - since)))
    // Whatever is still buffered goes out first (a write callback fires once it reached the socket).
    if (raw.writableLength > 0) raw.write('', wait)
    else wait()
  })
}

export function createStreams (
  store: SessionStore,
  opts: SseOptions,
  log: FastifyBaseLogger,
  /** Called when a session's client went away and did not come back within the grace time. */
  onAbandoned: (sessionId: string) => void = () => {}
) {
  const live = new Map<string, LiveStream>()
  const perOwner = new Map<string, number>()
  const abandoned = new Map<string, NodeJS.Timeout>()
  let closing = false

  // One timer for every stream: idle ones get a comment so proxies keep them open.
  const pinger = setInterval(() => {
    const idleSince = clock() - opts.pingIntervalMs * 0.9
    for (const s of live.values()) {
      if (s.lastWrite <= idleSince) {
        s.raw.write(': ping\n\n')
        s.lastWrite = clock()
      }
    }
  }, opts.pingIntervalMs)
  pinger.unref()

  /**
   * One open stream. Its state is one object with shared methods, and its socket's 'close'
   * listener is one function for all streams: an idle stream holds no closures of its own but
   * its store watcher, and an idle stream's bytes count.
   */
  class Stream implements LiveStream {
    // The pump runs while there is something to read and returns when there is not (DIRTY,
    // PUMPING): an idle stream holds no parked async function (its promise and generator).
    flags = DIRTY
    lastWrite = clock()
    after: string | null
    // When the last frame written was a JSON-RPC notification (0: it was not).
    lastNotice = 0
    readonly sessionId: string
    readonly owner: string
    readonly gapFrame: (() => SseEvent) | undefined
    /** The caller's options when it gave any a plain session stream does not use, else undefined. */
    readonly o: ServeOptions | undefined
    readonly unwatch: () => void
    readonly expiry: NodeJS.Timeout | undefined

    constructor (readonly raw: SseResponse, o: ServeOptions, readonly key: string) {
      this.sessionId = o.sessionId
      this.owner = o.owner
      this.gapFrame = o.gapFrame
      // An idle envelope stream keeps no options object of its own, only the fields above.
      this.o = o.stream !== undefined || o.idPrefix !== undefined || o.onClose !== undefined ||
        o.onAbandoned !== undefined || o.separateResponses === true
        ? o
        : undefined
      this.after = o.lastEventId
      this.unwatch = store.watch(o.sessionId, () => this.wake())
      this.expiry = o.expiresAt === undefined
        ? undefined
        : setTimeout(() => this.end('token expired; reconnect with a fresh token'), Math.min(Math.max(0, o.expiresAt - Date.now()), 2 ** 31 - 1))
      this.expiry?.unref()
      raw[kStream] = this
    }

    private flag (bit: number, on: boolean): void { this.flags = on ? this.flags | bit : this.flags & ~bit }
    get closed (): boolean { return (this.flags & CLOSED) !== 0 }
    get dirty (): boolean { return (this.flags & DIRTY) !== 0 }
    set dirty (on: boolean) { this.flag(DIRTY, on) }
    get pumping (): boolean { return (this.flags & PUMPING) !== 0 }
    set pumping (on: boolean) { this.flag(PUMPING, on) }
    get replaced (): boolean { return (this.flags & REPLACED) !== 0 }
    set replaced (on: boolean) { this.flag(REPLACED, on) }
    get storeTrouble (): boolean { return (this.flags & STORE_TROUBLE) !== 0 }
    set storeTrouble (on: boolean) { this.flag(STORE_TROUBLE, on) }

    wake (): void {
      this.dirty = true
      if (!this.pumping && !this.closed) this.startPump()
    }

    end (comment?: string): void {
      if (this.closed) return
      if (comment && !this.raw.writableEnded) this.raw.write(`: ${comment}\n\n`)
      this.raw.end()
      this.cleanup()
    }

    cleanup (): void {
      if (this.closed) return
      this.flag(CLOSED, true)
      const { o, key, owner, sessionId } = this
      clearTimeout(this.expiry)
      this.unwatch()
      if (live.get(key) === this) live.delete(key)
      const n = (perOwner.get(owner) ?? 1) - 1
      if (n > 0) perOwner.set(owner, n)
      else perOwner.delete(owner)
      this.raw.off('close', onRawClose)
      if (!this.replaced && !closing) {
        // The client left (or was cut as too slow). Its calls run on for a reconnect to collect
        // their results; if none comes within the grace time, they are aborted.
        const timer = setTimeout(() => {
          abandoned.delete(key)
          if (!live.has(key)) (o?.onAbandoned ?? (() => onAbandoned(sessionId)))()
        }, opts.reconnectGraceMs)
        timer.unref()
        abandoned.set(key, timer)
      }
      o?.onClose?.()
    }

    startPump (): void {
      this.pumping = true
      this.pump().then(() => {
        this.pumping = false
        // A wake-up between the run's last look at `dirty` and here started nothing.
        if (this.dirty && !this.closed) this.startPump()
      }, (err: unknown) => {
        this.pumping = false
        log.warn({ err, sessionId: this.sessionId }, 'SSE stream ended on a store error')
        this.end('stream interrupted; reconnect to resume')
      })
    }

    async pump (): Promise<void> {
      const { raw, o, sessionId } = this
      while (!this.closed && this.dirty) {
        this.dirty = false
        let batch: Awaited<ReturnType<SessionStore['read']>>
        try {
          batch = await store.read(sessionId, this.after, READ_BATCH, o?.stream)
        } catch (err) {
          // A deleted or expired session ends its stream; a store outage (Redis restarting) is
          // waited out with the stream open, so the client loses nothing and need not reconnect.
          if (err instanceof AppError && err.statusCode === 404) {
            this.end('session ended')
            return
          }
          if (!this.storeTrouble) log.warn({ err, sessionId }, 'session store unavailable; stream waiting')
          this.storeTrouble = true
          await new Promise((resolve) => setTimeout(resolve, STORE_RETRY_MS))
          this.dirty = true
          continue
        }
        this.storeTrouble = false
        const { events, gap } = batch
        if (this.closed) return
        // Any gap the reader crosses is announced, on a fresh stream or a live one whose reader
        // fell behind the retention limits.
        if (gap && this.gapFrame) raw.write(formatEvent(this.gapFrame()))
        for (const ev of events) {
          if (ev.event === END_EVENT) {
            this.replaced = true // finished, not abandoned: nothing to abort later
            this.end()
            return
          }
          // A JSON-RPC response right after a notification gets a network write of its own (see
          // NOTICE): clients handle notifications a microtask late, responses at once.
          const notice = o?.separateResponses === true && ev.data.startsWith(NOTICE)
          if (!notice && this.lastNotice > 0 && ev.data.startsWith(JSONRPC)) {
            await apart(raw, this.lastNotice)
            if (this.closed) return
          }
          this.lastNotice = notice ? performance.now() : 0
          const flushed = raw.write(formatEvent(o?.idPrefix ? { ...ev, id: o.idPrefix + ev.id } : ev))
          this.after = ev.id
          this.lastWrite = clock()
          // Backpressure: stop pulling from the log until the socket drains. A consumer that
          // stays slow is cut; the unsent frames stay in the log for its reconnect.
          if (!flushed && !(await waitForDrain(raw, opts.writeTimeoutMs))) {
            if (!this.closed) {
              log.warn({ sessionId }, 'SSE consumer too slow; closing its stream')
              raw.destroy()
              this.cleanup()
            }
            return
          }
          if (this.closed) return
        }
        // Entries of other streams were looked at too; the next read starts after them.
        if (batch.last !== null) this.after = batch.last
        // Best effort: a failed ack only means a fresh stream may replay these frames.
        if (events.length > 0 && !o?.stream) await store.ack(sessionId, this.after!).catch(() => {})
        if (batch.more) this.dirty = true
      }
    }
  }

  /** Hijacks `reply` and delivers the session's events until the client or the server closes. */
  function serve (reply: FastifyReply, o: ServeOptions): void {
    const owned = perOwner.get(o.owner) ?? 0
    if (opts.maxStreamsPerPrincipal > 0 && owned >= opts.maxStreamsPerPrincipal) {
      throw new AppError(429, 'too_many_streams', `at most ${opts.maxStreamsPerPrincipal} open streams per principal`)
    }
    const key = o.key ?? o.sessionId
    // One live stream per session: the newer one takes over, the older is ended cleanly.
    const previous = live.get(key)
    if (previous) {
      previous.replaced = true
      previous.end('replaced by a newer stream')
    }
    clearTimeout(abandoned.get(key))
    abandoned.delete(key)

    const raw = startSse(reply) as SseResponse
    const stream = new Stream(raw, o, key)
    live.set(key, stream)
    perOwner.set(o.owner, owned + 1)
    raw.on('close', onRawClose)
    // The client may have gone while the route awaited the store; 'close' has then already fired.
    if (!raw.socket || raw.socket.destroyed) {
      stream.cleanup()
      return
    }
    if (o.preamble) raw.write(o.preamble)
    stream.startPump()
  }

  const deliver = createDeliver(store, opts.resultRetryMs, log, () => closing, endSession)

  function endSession (sessionId: string, comment?: string): void {
    for (const s of [...live.values()]) if (s.sessionId === sessionId) s.end(comment)
  }

  return {
    serve,
    deliver,
    /** Ends every stream with a comment so EventSource clients reconnect (elsewhere). */
    endAll (comment: string): void {
      closing = true
      for (const s of [...live.values()]) s.end(comment)
    },
    /** Ends the stream held under `key` (session deleted, for example). */
    end (key: string, comment?: string): void {
      live.get(key)?.end(comment)
    },
    /** Ends every stream of a session (all of an MCP session's request streams too). */
    endSession,
    count: (): number => live.size,
    close (): void {
      clearInterval(pinger)
      for (const timer of abandoned.values()) clearTimeout(timer)
      abandoned.clear()
    }
  }
}

export type Streams = ReturnType<typeof createStreams>

declare module 'fastify' {
  interface FastifyInstance {
    streams: Streams
  }
}

export default fp(async function streamsPlugin (fastify: FastifyInstance, opts: { sse: SseOptions }) {
  const streams = createStreams(fastify.sessions, opts.sse, fastify.log,
    (sessionId) => fastify.calls.abortSession(sessionId, 'client disconnected'))
  fastify.decorate('streams', streams)
  // Open streams must end before the server closes, or close() waits on them forever.
  fastify.addHook('preClose', async () => { streams.endAll('server shutting down; reconnect') })
  fastify.addHook('onClose', async () => { streams.close() })
}, { name: 'datapulse-streams', fastify: '5.x', dependencies: ['datapulse-sessions', 'datapulse-calls'] })
