import t from 'tap'
import type { DataPulseOptions } from '../app.js'
import { startApp, type Running } from './helper.js'

export type Start = (opts?: DataPulseOptions) => Promise<Running>

/**
 * Runs `fn` once per session store, so the same assertions cover the in-memory default and
 * Redis. The Redis variant is added by the Redis store's test support.
 */
export type Test = Parameters<NonNullable<Parameters<typeof t.test>[1]>>[0]

export function eachStore (title: string, fn: (t: Test, start: Start) => Promise<void>): void {
  t.test(`${title} [memory]`, (tt) => fn(tt, (opts) => startApp(opts)))
}
