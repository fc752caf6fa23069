/** Capacity of a session's first chunk; each new chunk doubles it, up to MAX_CHUNK. */
const MIN_CHUNK = 1024
const MAX_CHUNK = 64 * 1024

/**
 * One session's retained events in memory, their data outside the JS heap: UTF-8 in a few
 * chunk buffers per session, indexed by parallel arrays of numbers plus two pointers to shared
 * strings (event name, stream) per event. Retained events were most of a busy server's old
 * generation: each one a string the young GC copied twice and every major GC marked, and the
 * envelope promoted ~150 KB per scavenge under load. Here the published string dies young;
 * readers get a fresh one decoded from the chunk (as from Redis).
 * Sequence numbers are contiguous: the event at index i has seq `first + i`.
 */
interface Columns {
  /** Chunks still holding retained events; chunks[0] has the number `chunkBase`. */
  chunks: Buffer[]
  chunkOf: number[]
  offset: number[]
  size: number[]
  events: Array<string | undefined>
  streams: string[]
}

export class EventLog {
  #chunkBase = 0
  /** Bytes written into the last chunk. */
  #used = 0
  /** The index, made at the first event: most sessions of an idle stream never get one. */
  #cols: Columns | null = null
  /** The seq of the oldest retained event (`next` when none is). */
  first = 1
  /** The seq the next appended event gets. */
  next = 1
  /** UTF-8 bytes of the retained events' data. */
  bytes = 0

  get length (): number { return this.#cols === null ? 0 : this.#cols.size.length }

  /** Appends an event; returns the UTF-8 size of its data. */
  push (data: string, event: string | undefined, stream: string): number {
    const c = this.#cols ??= { chunks: [], chunkOf: [], offset: [], size: [], events: [], streams: [] }
    // At most 3 bytes per UTF-16 unit: only a string that may not fit is measured first.
    const room = c.chunks.length === 0 ? -1 : c.chunks[c.chunks.length - 1].length - this.#used
    if (data.length * 3 > room) {
      const needed = Buffer.byteLength(data)
      if (needed > room) this.#grow(c, needed)
    }
    const chunk = c.chunks[c.chunks.length - 1]
    const size = chunk.write(data, this.#used, 'utf8')
    c.chunkOf.push(this.#chunkBase + c.chunks.length - 1)
    c.offset.push(this.#used)
    c.size.push(size)
    c.events.push(event)
    c.streams.push(stream)
    this.#used += size
    this.bytes += size
    this.next++
    return size
  }

  /** Starts a chunk with room for `size` bytes (doubling, so a busy session has few chunks). */
  #grow (c: Columns, size: number): void {
    const last = c.chunks[c.chunks.length - 1]
    const capacity = Math.max(size, last === undefined ? MIN_CHUNK : Math.min(MAX_CHUNK, last.length * 2))
    // Its own allocation, not a slice of Node's shared pool (which it would keep alive).
    c.chunks.push(Buffer.allocUnsafeSlow(capacity))
    this.#used = 0
  }

  /** Drops the oldest event (there must be one); returns the size of its data. */
  shift (): number {
    const c = this.#cols!
    const size = c.size.shift()!
    c.chunkOf.shift()
    c.offset.shift()
    c.events.shift()
    c.streams.shift()
    this.first++
    this.bytes -= size
    if (c.size.length === 0) {
      // Empty: keep only the last chunk and write it from the start again, so a log that is
      // emptied on every delivery (HTTP+SSE) reuses one buffer instead of allocating.
      this.#chunkBase += c.chunks.length - 1
      c.chunks.splice(0, c.chunks.length - 1)
      this.#used = 0
    } else {
      while (this.#chunkBase < c.chunkOf[0]) {
        c.chunks.shift()
        this.#chunkBase++
      }
    }
    return size
  }

  // Readers ask only for indexes below `length`, so the index exists.
  data (i: number): string {
    const c = this.#cols!
    const offset = c.offset[i]
    return c.chunks[c.chunkOf[i] - this.#chunkBase].toString('utf8', offset, offset + c.size[i])
  }

  event (i: number): string | undefined { return this.#cols!.events[i] }
  stream (i: number): string { return this.#cols!.streams[i] }
}
