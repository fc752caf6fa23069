import type { EventLog } from './event-log.js'
import type { SessionInfo } from './session-store.js'

export interface Session extends SessionInfo {
  log: EventLog
  cursor: number
  /** By clock() (lib/clock.ts), as orderedAt. */
  lastActive: number
  /** Its readers' wake-ups: see addWatcher. */
  watchers: Wake | Wake[] | undefined
  /** Created at the first value: most sessions never hold one, and an idle stream's bytes count. */
  values?: Map<string, string>
  /** Whether delivered events are kept for a reconnecting reader (see OpenOptions.replay). */
  replay: boolean
  /** Calls in flight (see SessionStore.pin). */
  pins: number
  /** When the session last moved to the recently used end (see touch). */
  orderedAt: number
}

type Wake = () => void

/**
 * A session's wake-ups are none, one (the usual: one stream per session) or several: a plain
 * field, not a Set, since an idle stream's bytes count and an empty Set with its table is ~150 B.
 */
export function addWatcher (s: Session, wake: Wake): void {
  const ws = s.watchers
  if (ws === undefined) s.watchers = wake
  else if (typeof ws === 'function') s.watchers = [ws, wake]
  else ws.push(wake)
}

export function removeWatcher (s: Session, wake: Wake): void {
  const ws = s.watchers
  if (ws === wake) s.watchers = undefined
  else if (Array.isArray(ws)) {
    const i = ws.indexOf(wake)
    if (i >= 0) ws.splice(i, 1)
    if (ws.length === 1) s.watchers = ws[0]
  }
}

/** Calls every wake-up; one may unwatch (or watch) as it runs, so several are called from a copy. */
export function wakeAll (s: Session): void {
  const ws = s.watchers
  if (ws === undefined) return
  if (typeof ws === 'function') ws()
  else for (const wake of ws.slice()) wake()
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
    if (s.watchers !== undefined || s.pins > 0) busy.push(s)
    else if (!undelivered(s)) { fallback = s; break } else fallback ??= s
  }
  for (const s of busy) moveBack(s)
  return fallback
}
