import type { EventLog } from './event-log.js'
import type { SessionInfo } from './session-store.js'

export interface Session extends SessionInfo {
  log: EventLog
  cursor: number
  lastActive: number
  watchers: Set<() => void>
  /** Created at the first value: most sessions never hold one, and an idle stream's bytes count. */
  values?: Map<string, string>
  /** Whether delivered events are kept for a reconnecting reader (see OpenOptions.replay). */
  replay: boolean
  /** Calls in flight (see SessionStore.pin). */
  pins: number
  /** When the session last moved to the recently used end (see touch). */
  orderedAt: number
}

/** How many of the least recently used sessions one eviction looks at before it gives up. */
const EVICTION_SCAN = 64

const undelivered = (s: Session) => s.log.next - 1 > Math.max(s.cursor, s.log.first - 1)

/**
 * The session to evict to make room: the least recently used one of `order` that nobody uses —
 * no reader, no call in flight — preferring one with nothing undelivered; one with undelivered
 * frames only if no cleaner one is near the front (its client has not come back for the
 * longest). Sessions in use that it passes are handed to `moveBack`, so the next eviction does
 * not look at them first. Undefined when every candidate is in use.
 */
export function pickIdle (order: Iterable<string>, get: (id: string) => Session | undefined, moveBack: (s: Session) => void): Session | undefined {
  let fallback: Session | undefined
  let scanned = 0
  const busy: Session[] = []
  for (const id of order) {
    if (++scanned > EVICTION_SCAN) break
    const s = get(id)
    if (!s) continue
    if (s.watchers.size > 0 || s.pins > 0) busy.push(s)
    else if (!undelivered(s)) { fallback = s; break } else fallback ??= s
  }
  for (const s of busy) moveBack(s)
  return fallback
}
