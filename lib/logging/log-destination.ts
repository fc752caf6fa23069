import pino from 'pino'

type Sink = ReturnType<typeof pino.destination>

/**
 * Log lines gathered in an array and handed to sonic-boom (pino's asynchronous stdout writer)
 * as one string per batch. A line costs an array push: no syscall on the request's path, and
 * no growing buffer string re-measured on every line (sonic-boom's own minLength does that,
 * which allocated ~4 KB per access-log line). Batches go out at `maxBytes` or within
 * `maxDelayMs`; fatal lines (pino calls flushSync) and process exit flush at once.
 */
export class BatchedDestination {
  #lines: string[] = []
  #bytes = 0
  #timer: NodeJS.Timeout | undefined
  readonly #sink: Sink
  readonly #maxBytes: number
  readonly #maxDelayMs: number

  constructor (makeSink: () => Sink, maxBytes: number, maxDelayMs: number) {
    // Registered before the sink's own exit hook, so these lines are handed over before it flushes.
    process.once('exit', () => { try { this.flushSync() } catch { /* stdout is gone */ } })
    this.#sink = makeSink()
    this.#maxBytes = maxBytes
    this.#maxDelayMs = maxDelayMs
  }

  write (line: string): boolean {
    this.#lines.push(line)
    this.#bytes += line.length
    if (this.#bytes >= this.#maxBytes) this.flush()
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), this.#maxDelayMs)
      this.#timer.unref()
    }
    return true
  }

  /** Hands the gathered lines to the writer (asynchronously written). */
  flush (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#lines.length === 0) return
    const chunk = this.#lines.length === 1 ? this.#lines[0] : this.#lines.join('')
    this.#lines = []
    this.#bytes = 0
    this.#sink.write(chunk)
  }

  /** Writes everything now, synchronously: fatal lines and exit. */
  flushSync (): void {
    this.flush()
    this.#sink.flushSync()
  }
}

/** stdout for the server's log: asynchronous, batched (16 KiB or 250 ms). */
export function batchedStdout (): BatchedDestination {
  return new BatchedDestination(() => pino.destination({ dest: 1, sync: false }), 16_384, LOG_FLUSH_MS)
}

/** The longest a log line waits before it is written. */
export const LOG_FLUSH_MS = 250
