import { Writable } from 'node:stream'
import t from 'tap'
import dataPulse from '../app.js'
import { AUTH, SseClient, request, startApp } from './helper.js'
import { sleepTool } from './mcp-features.js'

t.test('a client that leaves /sse during a call is ordinary: nothing is logged at error', async (t) => {
  const lines: Array<{ level: number, msg: string }> = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done() } })
  const srv = await startApp({}, async (host) => {
    await host.register(dataPulse, { env: false, tools: [sleepTool] })
  }, { logger: { level: 'debug', stream } })
  t.teardown(srv.close)
  const sse = await SseClient.open(`${srv.url}/sse`)
  await sse.until((c) => c.events.some((e) => e.event === 'endpoint'), 5000, 'the endpoint event')
  const endpoint = srv.url + sse.events.find((e) => e.event === 'endpoint')!.data
  const rpc = (body: unknown) => request('POST', endpoint, { headers: AUTH, body })
  await rpc({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'r', version: '1' } } })
  await sse.frameFor('init')
  t.equal((await rpc({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'sleep', arguments: { ms: 300 } } })).status, 202)
  sse.close()
  await new Promise((resolve) => setTimeout(resolve, 800))
  const loud = lines.filter((l) => l.level >= 50)
  t.same(loud.map((l) => l.msg), [], 'no error line for an ordinary disconnect')
  t.ok(lines.some((l) => /session ended before its response/.test(l.msg)), 'the dropped response is noted at debug')
})
