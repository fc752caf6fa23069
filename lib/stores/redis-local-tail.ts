import type { NewEvent, ReadResult, StoredEvent } from './session-store.js'

// A few events per session, small ones: enough for a reader that keeps up, never a second log.
const KEEP = 8
const MAX_DATA = 16 * 1024

interface Entry { prev: string, id: string, stream: string, event: StoredEvent }
export interface Tail {
  /** The newest event local readers were woken for. */
  announced: string
  entries: Entry[]
  /** This instance's publishes awaiting their reply, and the newest id heard meanwhile. */
  sending: number
  heard: string
}

/** a > b for stream ids (ms-seq); anything else is never later. */
function later (a: string, b: string): boolean {
  const i = a.indexOf('-')
  const j = b.indexOf('-')
  if (i < 0 || j < 0) return false
  const am = Number(a.slice(0, i))
  const bm = Number(b.slice(0, j))
  return am > bm || (am === bm && Number(a.slice(i + 1)) > Number(b.slice(j + 1)))
}

/**
 * The events this instance published to sessions it also reads. A reader that has delivered
 * everything up to the entry before one of them (`prev`, returned by the publish script) gets it
 * from here instead of a round trip to Redis; anything else (a gap, another instance's events,
 * an unknown position) is read from Redis as before.
 *
 * Each event wakes local readers once. Its pub/sub message and the publish's reply come on two
 * connections in either order, so a message heard while one of this instance's publishes to the
 * session awaits its reply is held until that reply (or failure): the reply is what lets the
 * reader skip the read back.
 */
export function createLocalTail () {
  const tails = new Map<string, Tail>()

  /** Wake for what was heard while publishes were in flight, once none is. */
  const settle = (tail: Tail): boolean => {
    if (tail.sending > 0 || !later(tail.heard, tail.announced)) return false
    tail.announced = tail.heard
    return true
  }

  return {
    follow (sessionId: string): void { tails.set(sessionId, { announced: '0-0', entries: [], sending: 0, heard: '0-0' }) },
    unfollow (sessionId: string): void { tails.delete(sessionId) },
    /** After a reconnect to Redis: what was kept may be gone from it. */
    forget (): void { for (const tail of tails.values()) tail.entries.length = 0 },

    /** Before this instance publishes to a session: the tail to report the outcome to, if it has readers here. */
    sending (sessionId: string): Tail | undefined {
      const tail = tails.get(sessionId)
      if (tail) tail.sending++
      return tail
    },

    /** The publish's reply: true when local readers must be woken. */
    published (tail: Tail, prev: string, id: string, ev: NewEvent): boolean {
      tail.sending--
      if (!later(id, tail.announced)) return settle(tail)
      tail.announced = id
      if (ev.data.length <= MAX_DATA) {
        const event = ev.event ? { id, event: ev.event, data: ev.data } : { id, data: ev.data }
        if (tail.entries.push({ prev, id, stream: ev.stream ?? '', event }) > KEEP) tail.entries.shift()
      }
      settle(tail)
      return true
    },

    /** The publish failed: true when what was heard meanwhile must wake readers. */
    failed (tail: Tail): boolean {
      tail.sending--
      return settle(tail)
    },

    /** A message on the session's wake-up channel: true when local readers must be woken now. */
    announce (sessionId: string, message = ''): boolean {
      const tail = tails.get(sessionId)
      if (!tail) return true
      if (!later(message, '0-0')) {
        // 'wake', 'deleted', a resubscription: not an event; what was kept may no longer be the log's.
        tail.entries.length = 0
        return true
      }
      if (!later(message, tail.announced)) return false
      if (tail.sending > 0) {
        if (later(message, tail.heard)) tail.heard = message
        return false
      }
      tail.announced = message
      return true
    },

    /** The events after `after` when this instance published all of them, else null (read Redis). */
    read (sessionId: string, after: string | null, limit: number, stream: string): ReadResult | null {
      const tail = after === null ? undefined : tails.get(sessionId)
      if (!tail || tail.entries.length === 0) return null
      const { entries } = tail
      let i = entries.findIndex((e) => e.prev === after)
      if (i < 0) return null
      const events: StoredEvent[] = []
      let last = after!
      let looked = 0
      for (; i < entries.length && entries[i].prev === last && looked < limit; i++, looked++) {
        if (entries[i].stream === stream) events.push(entries[i].event)
        last = entries[i].id
      }
      // Announced events past the chain (another instance's among ours) are read from Redis next.
      return { events, gap: false, last, more: looked === limit || later(tail.announced, last) }
    }
  }
}
