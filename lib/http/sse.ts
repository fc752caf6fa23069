import type { ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import { accessLine, redactUrl } from '../logging/log.js'

export interface SseEvent {
  id?: string
  event?: string
  data: string
}

/** One SSE frame. `data` is JSON, which never holds a raw newline, so one `data:` line suffices. */
export function formatEvent (ev: SseEvent): string {
  let out = ''
  if (ev.id !== undefined) out += `id: ${ev.id}\n`
  if (ev.event !== undefined) out += `event: ${ev.event}\n`
  return out + `data: ${ev.data}\n\n`
}

/**
 * Takes over the reply and writes SSE headers once. After `hijack()` Fastify no longer sends
 * headers set with `reply.header()` (CORS, request ids…), so they are copied onto the raw response.
 */
export function startSse (reply: FastifyReply, retryMs = 2000): ServerResponse {
  // A hijacked reply never reaches onResponse: its access-log line is written here.
  if (reply.server.accessLog) {
    accessLine(reply.log, { method: reply.request.method, url: redactUrl(reply.request.url), statusCode: 200 }, 'stream')
  }
  reply.hijack()
  const raw = reply.raw
  // Fastify's response listener holds the request and reply for the stream's whole life, only to
  // run onResponse when it ends: a hijacked stream has none of its own (its line is written
  // above), and an idle stream's bytes count. (Matched by name: a Fastify that renames it keeps it.)
  for (const event of ['finish', 'error']) {
    for (const listener of raw.listeners(event)) {
      if (listener.name === 'onResFinished') raw.off(event, listener as (...args: unknown[]) => void)
    }
  }
  const headers: Record<string, string | number | string[]> = {}
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) headers[name] = value
  }
  // The connection lives exactly as long as the stream: once we end it, the socket closes too,
  // so app.close() never waits on a keep-alive socket that was busy when idle ones were closed.
  raw.shouldKeepAlive = false
  // For the same reason the body needs no chunked framing: it ends when the connection does
  // (RFC 9112 §6.3), so each frame is one plain socket write instead of a corked four-part one.
  raw.useChunkedEncodingByDefault = false
  raw.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no'
  })
  raw.socket?.setNoDelay(true)
  // Node keeps the request's parsed headers object for the life of the response once anything read
  // it (routing, auth did); a stream never reads them again, and Node rebuilds them from
  // rawHeaders if something does. One object less per idle stream.
  raw.req.headers = null as unknown as typeof raw.req.headers
  // Tells EventSource how soon to reconnect after we close a stream (shutdown, takeover).
  raw.write(`retry: ${retryMs}\n\n`)
  return raw
}

/** Resolves true once `raw` drains, false if it is closed or `timeoutMs` passes first. */
export function waitForDrain (raw: ServerResponse, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer)
      raw.off('drain', onDrain)
      raw.off('close', onClose)
      resolve(ok)
    }
    const onDrain = () => done(true)
    const onClose = () => done(false)
    const timer = setTimeout(() => done(false), timeoutMs)
    raw.on('drain', onDrain)
    raw.on('close', onClose)
  })
}

/** A well-formed event id: the memory store's `n` or Redis' `ms-seq`. */
export const EVENT_ID = /^\d{1,16}(-\d{1,16})?$/

/** An event that ends the stream reading it (a request's stream after its response); never written. */
export const END_EVENT = 'datapulse:end'
