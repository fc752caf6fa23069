/** Capacity of a session's first chunk; each new chunk doubles it, up to MAX_CHUNK. */
const MIN_CHUNK = 1024
const MAX_CHUNK = 64 * 1024

/** Entries of the first index; it doubles when full. A power of two: positions wrap by mask. */
const MIN_INDEX = 8
// Per event in the index: chunk number, offset, size.
const FIELDS = 3

/**
 * One session's retained events in memory, their data outside the JS heap: UTF-8 in a few
 * chunk buffers per session, indexed by a ring of 32-bit integers (also outside the heap) beside
 * two rings of pointers to shared strings (event name, stream). Retained events were most of a busy
 * server's old generation: each one a string the young GC copied twice and every major GC
 * marked, and the envelope promoted ~150 KB per scavenge under load. Here the published string
 * dies young; readers get a fresh one decoded from the chunk (as from Redis). An index of JS
 * arrays, long-lived and growing, left its outgrown backing stores in the old generation
 * (~100 B per event under load); these rings are allocated only when they double, the integers
 * outside the heap.
 * Sequence numbers are contiguous: the event at index i has seq `first + i`.
 */
interface Columns {
  /** Chunks still holding retained events; chunks[0] has the number `chunkBase`. */
  chunks: Buffer[]
  /** A ring of `FIELDS` integers per event: its oldest at `head`, `count` of them. */
  index: Uint32Array
  /** The same ring's event names and streams; null while every event has none (the envelope's). */
  names: Array<string | undefined> | null
  streams: string[] | null
  /** Ring positions. */
  capacity: number
  head: number
  count: number
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

  get length (): number { return this.#cols === null ? 0 : this.#cols.count }

  /** Appends an event; returns the UTF-8 size of its data. */
  push (data: string, event: string | undefined, stream: string): number {
    const c = this.#cols ??= { chunks: [], index: new Uint32Array(MIN_INDEX * FIELDS), names: null, streams: null, capacity: MIN_INDEX, head: 0, count: 0 }
    // At most 3 bytes per UTF-16 unit: only a string that may not fit is measured first.
    const room = c.chunks.length === 0 ? -1 : c.chunks[c.chunks.length - 1].length - this.#used
    if (data.length * 3 > room) {
      const needed = Buffer.byteLength(data)
      if (needed > room) this.#grow(c, needed)
    }
    const chunk = c.chunks[c.chunks.length - 1]
    const size = chunk.write(data, this.#used, 'utf8')
    if (c.count === c.capacity) this.#widen(c)
    const slot = this.#slot(c, c.count)
    const at = slot * FIELDS
    c.index[at] = this.#chunkBase + c.chunks.length - 1
    c.index[at + 1] = this.#used
    c.index[at + 2] = size
    if (c.names === null && (event !== undefined || stream !== '')) {
      c.names = new Array(c.capacity).fill(undefined)
      c.streams = new Array(c.capacity).fill('')
    }
    if (c.names !== null) {
      c.names[slot] = event
      c.streams![slot] = stream
    }
    c.count++
    this.#used += size
    this.bytes += size
    this.next++
    return size
  }

  /** The ring position of the i-th retained event. */
  #slot (c: Columns, i: number): number {
    return (c.head + i) & (c.capacity - 1)
  }

  /** Doubles the rings, oldest event first. */
  #widen (c: Columns): void {
    const n = c.capacity
    const index = new Uint32Array(n * 2 * FIELDS)
    index.set(c.index.subarray(c.head * FIELDS))
    index.set(c.index.subarray(0, c.head * FIELDS), (n - c.head) * FIELDS)
    if (c.names !== null) {
      const names: Array<string | undefined> = new Array(n * 2).fill(undefined)
      const streams: string[] = new Array(n * 2).fill('')
      for (let i = 0; i < n; i++) {
        names[i] = c.names[(c.head + i) & (n - 1)]
        streams[i] = c.streams![(c.head + i) & (n - 1)]
      }
      c.names = names
      c.streams = streams
    }
    c.index = index
    c.capacity = n * 2
    c.head = 0
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
    const size = c.index[c.head * FIELDS + 2]
    if (c.names !== null) {
      // The dropped event's strings are not kept alive by its old slot.
      c.names[c.head] = undefined
      c.streams![c.head] = ''
    }
    c.head = (c.head + 1) & (c.capacity - 1)
    c.count--
    this.first++
    this.bytes -= size
    if (c.count === 0) {
      // Empty: keep only the last chunk and write it from the start again, so a log that is
      // emptied on every delivery (HTTP+SSE) reuses one buffer instead of allocating.
      this.#chunkBase += c.chunks.length - 1
      c.chunks.splice(0, c.chunks.length - 1)
      this.#used = 0
    } else {
      const oldest = c.index[c.head * FIELDS]
      while (this.#chunkBase < oldest) {
        c.chunks.shift()
        this.#chunkBase++
      }
    }
    return size
  }

  // Readers ask only for indexes below `length`, so the index exists.
  data (i: number): string {
    const c = this.#cols!
    const at = this.#slot(c, i) * FIELDS
    const offset = c.index[at + 1]
    return c.chunks[c.index[at] - this.#chunkBase].toString('utf8', offset, offset + c.index[at + 2])
  }

  event (i: number): string | undefined { const c = this.#cols!; return c.names?.[this.#slot(c, i)] }
  stream (i: number): string { const c = this.#cols!; return c.streams?.[this.#slot(c, i)] ?? '' }
}

/**
 * The log of every session that has had no event yet, shared and never written: the memory store
 * gives a session its own log at its first event. Frozen, so a write to it throws.
 */
export const NO_EVENTS = new EventLog()
Object.freeze(NO_EVENTS)
