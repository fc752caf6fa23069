import t from 'tap'
import { SseClient, post, request, startApp } from './helper.js'

function value (text: string, metric: string): number {
  const line = text.split('\n').find((l) => l.startsWith(metric + ' ') || l.startsWith(metric + '{') && l.includes(metric))
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0
}

t.test('/metrics moves with the traffic', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const before = (await request('GET', `${srv.url}/metrics`)).text
  t.equal(value(before, 'datapulse_open_streams'), 0)

  const sse = await SseClient.open(`${srv.url}/events?session_id=m`)
  await post(srv.url, '/message?session_id=m', { type: 'call_tool', request_id: 'a', data: { name: 'get_time' } })
  await post(srv.url, '/message?session_id=m', { type: 'call_tool', request_id: 'b', data: { name: 'no_such' } })
  await post(srv.url, '/message?session_id=m', { type: 'call_tool', request_id: 'c', data: { name: 'fetch_url', url: 'http://127.0.0.1:1/' } })
  await sse.frameFor('c')
  const res = await request('GET', `${srv.url}/metrics`)
  t.equal(res.status, 200)
  t.match(res.headers['content-type'], /text\/plain/)
  const text = res.text
  t.equal(value(text, 'datapulse_open_streams'), 1)
  t.equal(value(text, 'datapulse_sessions'), 1)
  t.equal(value(text, 'datapulse_tool_calls_total{tool="get_time",outcome="ok"}'), 1)
  t.equal(value(text, 'datapulse_tool_calls_total{tool="(unknown)",outcome="unknown_tool"}'), 1)
  t.equal(value(text, 'datapulse_tool_calls_total{tool="fetch_url",outcome="tool_failed"}'), 1)
  t.equal(value(text, 'datapulse_tool_call_duration_seconds_count{tool="get_time"}'), 1)
  t.ok(value(text, 'datapulse_http_requests_total{method="POST",route="/message",status="202"}') >= 3)
  t.match(text, /datapulse_process_resident_memory_bytes/)

  sse.close()
  await new Promise((resolve) => setTimeout(resolve, 100))
  const after = (await request('GET', `${srv.url}/metrics`)).text
  t.equal(value(after, 'datapulse_open_streams'), 0)
  t.equal(value(after, 'datapulse_http_requests_total{method="GET",route="/events",status="200"}'), 1, 'the stream is counted when it ends')
})

t.test('metrics can be turned off; two apps do not share a registry', async (t) => {
  const off = await startApp({ http: { metrics: false } })
  t.teardown(off.close)
  t.equal((await request('GET', `${off.url}/metrics`)).status, 404)
  const a = await startApp()
  const b = await startApp()
  t.teardown(async () => { await a.close(); await b.close() })
  await post(a.url, '/message?session_id=x', { type: 'call_tool', request_id: 'a', data: { name: 'get_time' } })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(value((await request('GET', `${b.url}/metrics`)).text, 'datapulse_tool_calls_total{tool="get_time",outcome="ok"}'), 0)
  t.equal(value((await request('GET', `${a.url}/metrics`)).text, 'datapulse_tool_calls_total{tool="get_time",outcome="ok"}'), 1)
})
