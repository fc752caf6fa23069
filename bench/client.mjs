// The load client, in its own process so it never competes with the server's event loop.
// Every answer is checked; a wrong or missing one is counted as an error.
import http from 'node:http'

const AUTH = { authorization: 'Bearer secret_token' }
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

/** Opens an SSE stream; onEvent gets {event, data, id} for every frame. */
function openStream (url, headers, onEvent) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', ...AUTH, ...headers } }, (res) => {
      if (res.statusCode !== 200) { res.resume(); return reject(new Error(`stream ${url}: ${res.statusCode}`)) }
      res.setEncoding('utf8')
      let buf = ''
      res.on('data', (chunk) => {
        buf += chunk
        let cut
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut)
          buf = buf.slice(cut + 2)
          const ev = {}
          for (const line of block.split('\n')) {
            if (line.startsWith('data: ')) ev.data = line.slice(6)
            else if (line.startsWith('event: ')) ev.event = line.slice(7)
            else if (line.startsWith('id: ')) ev.id = line.slice(4)
          }
          if (ev.data !== undefined) onEvent(ev)
        }
      })
      res.on('error', () => {})
      resolve(req)
    })
    req.on('error', reject)
  })
}

function send (url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body)
    const req = http.request(url, { method: 'POST', agent, headers: { ...AUTH, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }))
    })
    req.on('error', reject)
    req.end(payload)
  })
}

const isTime = (v) => typeof v === 'string' && /^\d{4}-\d\d-\d\dT.*Z$/.test(v)

/** The JSON-RPC answer with `id` in a POST's body, whether it came as JSON or as an SSE stream. */
function answerOf (res, id) {
  if (!String(res.headers['content-type']).startsWith('text/event-stream')) return JSON.parse(res.text)
  for (const line of res.text.split('\n')) {
    if (!line.startsWith('data: ') || line.length <= 6) continue
    const m = JSON.parse(line.slice(6))
    if (m.id === id) return m
  }
  return undefined
}

/** Set by a request's `params.timeline`: sessions() then also returns when each call started. */
let timeline = false
/** Numbers each idle() call, so its sessions are its own. */
let idleBatches = 0

let told = 0
/** Says why a call failed, for the first few. */
function failed (err) {
  if (told++ < 5) console.error(`bench client: a call failed: ${err?.message ?? err}`)
}

/** Counts a refused POST as an error, and says why for the first few. */
function refused (scenario, res) {
  if (told++ < 5) console.error(`bench client: ${scenario} POST answered ${res.status}: ${res.text.slice(0, 200)}`)
  return false
}

const BOTH = { accept: 'application/json, text/event-stream' }
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {}
}

/** Per-session waiters keyed by request id; a frame nobody waits for is an error. */
function waiters () {
  const pending = new Map()
  return {
    wait (id, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { pending.delete(id); reject(new Error(`no answer for ${id}`)) }, timeoutMs)
        pending.set(id, (v) => { clearTimeout(timer); resolve(v) })
      })
    },
    deliver (id, value) {
      const w = pending.get(id)
      if (!w) return false
      pending.delete(id)
      w(value)
      return true
    }
  }
}

/** S sessions in parallel, each making K sequential calls; returns latencies (ms) and errors. */
async function sessions (S, K, open, call) {
  // Fresh connections for every run: a keep-alive socket idle since an earlier run may be closed
  // by the server (its keep-alive timeout) just as it is reused, and the call would fail for that.
  for (const list of Object.values(agent.freeSockets)) for (const socket of list) socket.destroy()
  const latencies = []
  // With `timeline` (bench/tail.mjs): each timed call's start (ms after the clock started) and session.
  const starts = timeline ? [] : undefined
  let errors = 0
  // Every session is open, and has made one untimed call, before the clock starts: the figure is
  // calls/s with S sessions open at once, not S session set-ups (the curve's 2,000 sessions × 10
  // calls would otherwise time 2,000 handshakes and initializes beside 20,000 calls). The untimed
  // call opens the session's POST connection, so timed calls measure calls, not the TCP
  // handshakes every run starts with, which took 30-130 ms each and were 0.5 % of the samples.
  const opened = await Promise.all(Array.from({ length: S }, async (_, s) => {
    const session = await open(s)
    try {
      if (!await call(session, `s${s}-warm`)) errors++
    } catch (err) { errors++; failed(err) }
    return session
  }))
  const started = performance.now()
  await Promise.all(opened.map(async (session, s) => {
    for (let k = 0; k < K; k++) {
      const t0 = performance.now()
      try {
        if (await call(session, `s${s}-k${k}`)) {
          latencies.push(performance.now() - t0)
          starts?.push(t0 - started, s)
        } else errors++
      } catch (err) { errors++; failed(err) }
    }
    session.close()
  }))
  return { latencies, errors, seconds: (performance.now() - started) / 1000, starts, origin: performance.timeOrigin + started }
}

const scenarios = {
  async envelope ({ base, S, K }) {
    return sessions(S, K, async (s) => {
      const w = waiters()
      const sid = `bench-${process.pid}-${s}-${Date.now()}`
      let stray = 0
      const req = await openStream(`${base}/events?session_id=${sid}`, {}, (ev) => {
        const f = JSON.parse(ev.data)
        if (!w.deliver(f.request_id, f)) stray++
      })
      return { sid, w, close: () => req.destroy(), stray: () => stray }
    }, async ({ sid, w }, id) => {
      const answer = w.wait(id)
      // A refused POST leaves its answer unawaited: it times out as an error, not a crash.
      answer.catch(() => {})
      const ack = await send(`${base}/message?session_id=${sid}`, { type: 'call_tool', request_id: id, data: { name: 'get_time' } })
      if (ack.status !== 202 || JSON.parse(ack.text).request_id !== id) return refused('envelope', ack)
      const f = await answer
      return f.type === 'tool_result' && isTime(f.data.time)
    })
  },

  async mcpSse ({ base, S, K }) {
    return sessions(S, K, async () => {
      const w = waiters()
      let endpoint
      let ready
      const gotEndpoint = new Promise((resolve) => { ready = resolve })
      const req = await openStream(`${base}/sse`, {}, (ev) => {
        if (ev.event === 'endpoint') { endpoint = ev.data; ready() } else {
          const m = JSON.parse(ev.data)
          w.deliver(m.id, m)
        }
      })
      await gotEndpoint
      // Wait first: the answer can arrive on the stream before the 202 does.
      const initialized = w.wait('init')
      await send(base + endpoint, { jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } })
      await initialized
      return { endpoint, w, close: () => req.destroy() }
    }, async ({ endpoint, w }, id) => {
      const answer = w.wait(id)
      answer.catch(() => {})
      const ack = await send(base + endpoint, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'get_time', arguments: {} } })
      if (ack.status !== 202) return refused('mcpSse', ack)
      const m = await answer
      return isTime(m.result?.structuredContent?.time)
    })
  },

  async streamable ({ base, S, K }) {
    const headers = { accept: 'application/json' }
    return sessions(S, K, async () => {
      const init = await send(`${base}/mcp`, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }, headers)
      return { sid: init.headers['mcp-session-id'], close () {} }
    }, async ({ sid }, id) => {
      const res = await send(`${base}/mcp`, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'get_time', arguments: {} } },
        { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' })
      return res.status === 200 && isTime(JSON.parse(res.text).result?.structuredContent?.time)
    })
  },

  /** Streamable HTTP as every SDK client sends it: Accept with both types, JSON or SSE back. */
  async streamableBoth ({ base, S, K }) {
    return sessions(S, K, async () => {
      const init = await send(`${base}/mcp`, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }, BOTH)
      // Stateless servers (some peers) give no session id; the header is then left out.
      const sid = init.headers['mcp-session-id']
      const session = sid ? { 'mcp-session-id': sid } : {}
      await send(`${base}/mcp`, { jsonrpc: '2.0', method: 'notifications/initialized' }, { ...BOTH, ...session, 'mcp-protocol-version': '2025-11-25' })
      return { session, close () {} }
    }, async ({ session }, id) => {
      const res = await send(`${base}/mcp`, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'get_time', arguments: {} } },
        { ...BOTH, ...session, 'mcp-protocol-version': '2025-11-25' })
      return res.status === 200 && isTime(answerOf(res, id)?.result?.structuredContent?.time)
    })
  },

  /** The stateless 2026-07-28 revision: every request carries its version in _meta and headers. */
  async modern ({ base, S, K }) {
    return sessions(S, K, async () => ({ close () {} }), async (_session, id) => {
      const res = await send(`${base}/mcp`, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'get_time', arguments: {}, _meta: META } },
        { ...BOTH, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'get_time' })
      const answer = answerOf(res, id)
      return res.status === 200 && answer?.result?.resultType === 'complete' && isTime(answer.result.structuredContent?.time)
    })
  },

  /**
   * A task end to end (2026-07-28 tasks extension, against the everything fixture): tools/call of
   * slow_compute (0 s) from a client that declares the extension → CreateTaskResult; tasks/get
   * until completed, polling at once and then every POLL_MS → the inlined result. One "call" is
   * the whole task; `polls` counts the tasks/get requests it took.
   */
  async tasks ({ base, S, K, pollMs = 5 }) {
    let polls = 0
    const meta = { ...META, 'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } } }
    const post = (id, method, params, name) => send(`${base}/mcp`, { jsonrpc: '2.0', id, method, params: { ...params, _meta: meta } },
      { ...BOTH, 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, 'mcp-name': name })
    const result = await sessions(S, K, async () => ({ close () {} }), async (_session, id) => {
      const created = answerOf(await post(id, 'tools/call', { name: 'slow_compute', arguments: { seconds: 0 } }, 'slow_compute'), id)?.result
      if (created?.resultType !== 'task') return false
      for (let i = 0; i < 1000; i++) {
        polls++
        const task = answerOf(await post(`${id}-p${i}`, 'tasks/get', { taskId: created.taskId }, created.taskId), `${id}-p${i}`)?.result
        if (task?.status === 'completed') return task.result?.content?.[0]?.text === 'Computed result after 0 s'
        if (task?.status !== 'working') return false
        await new Promise((resolve) => setTimeout(resolve, pollMs))
      }
      return false
    })
    return { ...result, polls }
  },

  /** The same tool as a plain 2026-07-28 call (no extension declared): what a task adds is the difference. */
  async plainCompute ({ base, S, K }) {
    return sessions(S, K, async () => ({ close () {} }), async (_session, id) => {
      const res = await send(`${base}/mcp`, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'slow_compute', arguments: { seconds: 0 }, _meta: META } },
        { ...BOTH, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'slow_compute' })
      return answerOf(res, id)?.result?.content?.[0]?.text === 'Computed result after 0 s'
    })
  },

  /**
   * Opens N idle streams (sessions of their own, whatever was opened before) and keeps them, with
   * the earlier calls' streams, until told to close.
   */
  async idle ({ base, N }) {
    const open = []
    let failed = 0
    const batchId = idleBatches++
    for (let i = 0; i < N; i += 200) {
      const batch = await Promise.allSettled(Array.from({ length: Math.min(200, N - i) }, (_, j) =>
        openStream(`${base}/events?session_id=idle-${process.pid}-${batchId}-${i + j}`, {}, () => {})))
      for (const r of batch) r.status === 'fulfilled' ? open.push(r.value) : failed++
    }
    globalThis.idleStreams = [...(globalThis.idleStreams ?? []), ...open]
    return { opened: open.length, failed }
  },

  async closeIdle () {
    for (const req of globalThis.idleStreams ?? []) req.destroy()
    globalThis.idleStreams = []
    return {}
  }
}

process.on('message', async ({ scenario, params }) => {
  timeline = params?.timeline === true
  try {
    process.send({ ok: true, result: await scenarios[scenario](params) })
  } catch (err) {
    process.send({ ok: false, error: String(err?.stack ?? err) })
  }
})
process.send({ ready: true })
