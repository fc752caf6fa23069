import { Writable } from 'node:stream'
import t from 'tap'
import dataPulse from '../app.js'
import { AUTH, post, startApp } from './helper.js'

t.test('an unknown envelope type names the allowed ones, once', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const res = await post(srv.url, '/message?session_id=op', { type: 'list_everything', request_id: 'r' }, AUTH)
  t.equal(res.status, 400)
  t.equal(res.json().message, 'body/type must be one of "list_tools", "call_tool", "get_task", "cancel_task"')
})

t.test('the startup log says where the demo page is', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const srv = await startApp({}, async (host) => {
    await host.register(dataPulse, { env: false, http: { demoPage: true } })
  }, { logger: { level: 'info', stream } })
  t.teardown(srv.close)
  t.ok(lines.some((l) => l.includes(`demo page at ${srv.url}/`)), `a line names ${srv.url}/`)
})
