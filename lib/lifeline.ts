const noop = () => {}

/**
 * What can end a request or a call early (the client cancelled or went away, the tool timed
 * out), without an EventTarget: making an AbortController and its signal costs a few
 * microseconds, a tenth of what a fast tool call costs the server in all. A lifeline is a flag
 * and a callback list; a real AbortSignal is made only when something asks for one (a handler
 * that reads `ctx.signal`, say to pass it to fetch).
 */
export class Lifeline {
  #aborted = false
  #reason: unknown
  #listeners: Set<(reason: unknown) => void> | undefined
  #controller: AbortController | undefined

  get aborted (): boolean { return this.#aborted }
  get reason (): unknown { return this.#reason }

  /** An AbortSignal that fires with this lifeline; made on first use. */
  get signal (): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  abort (reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    const listeners = this.#listeners
    this.#listeners = undefined
    if (listeners) for (const listener of listeners) listener(reason)
    this.#controller?.abort(reason)
  }

  /** Calls `listener` once when aborted (at once if it already is); returns the unsubscribe. */
  onAbort (listener: (reason: unknown) => void): () => void {
    if (this.#aborted) {
      listener(this.#reason)
      return noop
    }
    const listeners = this.#listeners ??= new Set()
    listeners.add(listener)
    return () => { listeners.delete(listener) }
  }
}
