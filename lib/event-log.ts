/**
 * One session's retained events in memory, as parallel arrays: per event one data string and
 * two pointers to shared strings (event name, stream), instead of an object per event. Retained
 * events are most of a busy server's old generation and every major GC marks them; an event
 * was five heap objects (its entry and the pieces of the string JSON.stringify built), now one.
 * Sequence numbers are contiguous: the event at index i has seq `first + i`.
 */
export class EventLog {
  #data: string[] = []
  #events: Array<string | undefined> = []
  #streams: string[] = []
  /** The seq of the oldest retained event (`next` when none is). */
  first = 1
  /** The seq the next appended event gets. */
  next = 1

  get length (): number { return this.#data.length }

  /** Appends an event and returns its seq. */
  push (data: string, event: string | undefined, stream: string): number {
    // JSON.stringify returns a tree of string pieces; reading a character flattens it now,
    // while it is young, so the young GC keeps one flat string instead of the tree.
    if (data.length > 0) data.charCodeAt(0)
    this.#data.push(data)
    this.#events.push(event)
    this.#streams.push(stream)
    return this.next++
  }

  /** Drops the oldest event; returns the length of its data. */
  shift (): number {
    this.#events.shift()
    this.#streams.shift()
    this.first++
    return this.#data.shift()!.length
  }

  data (i: number): string { return this.#data[i] }
  event (i: number): string | undefined { return this.#events[i] }
  stream (i: number): string { return this.#streams[i] }
}
