import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { DataPulseOptions } from '../app.js'
import { startApp, type Running } from './helper.js'
import { redisUnavailable, startRedis, type RedisServer } from './redis-server.js'

export type Start = (opts?: DataPulseOptions) => Promise<Running>
export type Test = Parameters<NonNullable<Parameters<typeof t.test>[1]>>[0]

let redis: Promise<RedisServer> | undefined

/** One redis-server per test file, started on first use and stopped when the file ends. */
function sharedRedis (): Promise<RedisServer> {
  if (!redis) {
    redis = startRedis()
    t.teardown(async () => { await (await redis!).dispose() })
  }
  return redis
}

/** Starts the app on Redis, in a key namespace of its own so tests never see each other's keys. */
export async function startOnRedis (opts: DataPulseOptions = {}, prefix = `t${randomUUID().slice(0, 8)}:`): Promise<Running> {
  const server = await sharedRedis()
  return startApp({ ...opts, sessions: { ...opts.sessions, redisUrl: server.url, redisKeyPrefix: prefix } })
}

/**
 * Runs `fn` once per session store, so the same assertions cover the in-memory default and
 * Redis. Without redis-server the Redis variant skips loudly (and fails under CI=true).
 */
export function eachStore (title: string, fn: (t: Test, start: Start) => Promise<void>): void {
  t.test(`${title} [memory]`, (tt) => fn(tt, (opts) => startApp(opts)))
  const why = redisUnavailable()
  if (why) t.test(`${title} [redis]`, { skip: why }, async () => {})
  else t.test(`${title} [redis]`, (tt) => fn(tt, (opts) => startOnRedis(opts)))
}
