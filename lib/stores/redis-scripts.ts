import { createHash } from 'node:crypto'

// Lua scripts run atomically inside Redis, so two instances never interleave the steps of an
// open, a publish with its trimming, or a cursor move. Every script touches only the keys of one
// session, which share the hash tag {sessionId}: in a Redis Cluster they live in one slot, and the
// session's wake-up channel (sharded pub/sub, SPUBLISH) hashes to that slot too.
// Keys: a session is a hash (owner, createdAt, cursor, bytes, trimmed, last, v:* values) and a
// stream (its log).

/** KEYS: meta, log. ARGV: owner, now ms, ttl s. → createdAt | "new:"createdAt | "forbidden" */
export const OPEN = `
local owner = redis.call('HGET', KEYS[1], 'owner')
local ttl = tonumber(ARGV[3])
if owner then
  if owner ~= ARGV[1] then return 'forbidden' end
else
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'createdAt', ARGV[2], 'cursor', '0-0', 'bytes', 0, 'trimmed', '0-0')
  redis.call('EXPIRE', KEYS[1], ttl)
  return 'new:' .. ARGV[2]
end
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return redis.call('HGET', KEYS[1], 'createdAt')
`

/**
 * KEYS: meta, log. ARGV: event name ("" for none), data, max events, max bytes, ttl s, wake
 * channel, stream ("" for the main one). → { the new entry id, the one before it } | "missing"
 */
export const PUBLISH = `
local prev = redis.call('HGET', KEYS[1], 'last')
if not prev then
  if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
  prev = '0-0'
end
local fields = {'d', ARGV[2]}
if ARGV[1] ~= '' then table.insert(fields, 'e'); table.insert(fields, ARGV[1]) end
if ARGV[7] ~= '' then table.insert(fields, 's'); table.insert(fields, ARGV[7]) end
local id = redis.call('XADD', KEYS[2], '*', unpack(fields))
redis.call('HSET', KEYS[1], 'last', id)
local bytes = redis.call('HINCRBY', KEYS[1], 'bytes', string.len(ARGV[2]))
local maxEvents = tonumber(ARGV[3])
local maxBytes = tonumber(ARGV[4])
local len = redis.call('XLEN', KEYS[2])
-- Trim oldest first, keeping the newest entry even if it alone is over the byte cap; remember
-- the last trimmed id so a reader behind it is told frames were dropped.
while len > 1 and (len > maxEvents or bytes > maxBytes) do
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  local size = 0
  for i = 1, #oldest[2], 2 do
    if oldest[2][i] == 'd' then size = string.len(oldest[2][i + 1]) end
  end
  redis.call('XDEL', KEYS[2], oldest[1])
  redis.call('HSET', KEYS[1], 'trimmed', oldest[1])
  bytes = redis.call('HINCRBY', KEYS[1], 'bytes', -size)
  len = len - 1
end
local ttl = tonumber(ARGV[5])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
-- Only instances that hold a reader of this session are subscribed to its channel.
redis.call('SPUBLISH', ARGV[6], id)
return {id, prev}
`

/**
 * Lua: cmp(x, y) orders two stream ids (ms-seq, or ms alone) as -1, 0 or 1. The parts compare as
 * digit strings, so a client's oversized Last-Event-ID never loses precision; anything that is
 * not an id counts as 0-0.
 */
const COMPARE_IDS = `
local function parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if not ms then ms = string.match(id, '^(%d+)$') or '0'; seq = '0' end
  return (string.gsub(ms, '^0+', '')), (string.gsub(seq, '^0+', ''))
end
local function cmpnum(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local function cmp(x, y)
  local a, b = parts(x)
  local c, d = parts(y)
  local r = cmpnum(a, c)
  if r ~= 0 then return r end
  return cmpnum(b, d)
end
`

/** KEYS: meta. ARGV: entry id. Moves the cursor forward only. */
export const ACK = `${COMPARE_IDS}
local cur = redis.call('HGET', KEYS[1], 'cursor')
if not cur then return 0 end
if cmp(ARGV[1], cur) > 0 then redis.call('HSET', KEYS[1], 'cursor', ARGV[1]) end
return 1
`

/**
 * KEYS: meta, log. ARGV: read after this id ("" for: after the delivery cursor), count.
 * → "missing" | { after, gap (0|1), future (0|1), entries }: one round trip for what was two.
 */
export const READ = `${COMPARE_IDS}
local m = redis.call('HMGET', KEYS[1], 'cursor', 'trimmed', 'last')
local cursor = m[1]
if not cursor then return 'missing' end
local newest = m[3] or '0-0'
local after = ARGV[1]
if after == '' then after = cursor end
local future = 0
-- An id beyond the newest event restarts after the delivery cursor, and the reader is told.
if cmp(after, newest) > 0 then
  if cmp(cursor, newest) > 0 then after = newest else after = cursor end
  future = 1
end
if not string.find(after, '-', 1, true) then after = after .. '-0' end
local entries = redis.call('XRANGE', KEYS[2], '(' .. after, '+', 'COUNT', tonumber(ARGV[2]))
local gap = future
if gap == 0 and m[2] and cmp(after, m[2]) < 0 then gap = 1 end
return {after, gap, future, entries}
`

/**
 * KEYS: meta, log. ARGV: ttl s, reader lease (epoch ms). Keeps a session with a live reader
 * alive, and marks it read (field w) until the lease ends, so no instance evicts it meanwhile.
 */
export const TOUCH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'w', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[1]))
return 1
`

/** Session values: set only on an existing session; take is get-and-delete in one step. */
export const TAKE = {
  /** KEYS: meta. ARGV: field, value. → 1 | 0 when the session is gone */
  set: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`,
  /** KEYS: meta. ARGV: field. → the value | false */
  take: `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then redis.call('HDEL', KEYS[1], ARGV[1]) end
return v
`
}

/** KEYS: counter. ARGV: window ms. A fixed-window counter: → {count, ttl ms}. */
export const HIT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1])) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1])); ttl = tonumber(ARGV[1]) end
return {count, ttl}
`

/**
 * KEYS: meta, log. ARGV: now (epoch ms), "clean" (only with nothing undelivered) | "any".
 * Removes an unused session to make room → "owner:<owner>" | "gone" | "" (in use, kept).
 */
export const EVICT = `${COMPARE_IDS}
local m = redis.call('HMGET', KEYS[1], 'owner', 'w', 'last', 'cursor')
if not m[1] then return 'gone' end
if m[2] and tonumber(m[2]) > tonumber(ARGV[1]) then return '' end
if ARGV[2] == 'clean' and m[3] and cmp(m[3], m[4] or '0-0') > 0 then return '' end
redis.call('DEL', KEYS[1], KEYS[2])
return 'owner:' .. m[1]
`

/** KEYS: record. ARGV: expected version, value, ttl ms. Compare-and-set → 1 | 0 (another writer won). */
export const PUT_RECORD = `
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', tonumber(v) + 1, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
`

type ScriptOptions = { keys: string[], arguments: string[] }
interface ScriptClient {
  evalSha (sha: string, options: ScriptOptions): Promise<unknown>
  eval (body: string, options: ScriptOptions): Promise<unknown>
}

/**
 * Runs a script by its SHA1 (EVALSHA), so Redis neither receives nor hashes its text on every
 * call; a node that has not seen it yet (NOSCRIPT: a restart, a new cluster node) gets it once.
 * A single Redis learns every script at start, so none is sent as text on a request's path.
 */
export async function createScriptRunner (client: ScriptClient, single: boolean) {
  const shas = new Map<string, string>()
  if (single) {
    await Promise.all([ACK, EVICT, HIT, OPEN, PUBLISH, PUT_RECORD, READ, TAKE.set, TAKE.take, TOUCH].map((body) => (client as unknown as { scriptLoad (s: string): Promise<string> }).scriptLoad(body)))
  }
  return function script (body: string, options: ScriptOptions): Promise<unknown> {
    let sha = shas.get(body)
    if (!sha) shas.set(body, sha = createHash('sha1').update(body).digest('hex'))
    return client.evalSha(sha, options).catch((err: unknown) => {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return client.eval(body, options)
      throw err
    })
  }
}
