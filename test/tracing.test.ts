import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { context, propagation, SpanKind, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { Type } from '@sinclair/typebox'
import t from 'tap'
import dataPulse, { defineTool } from '../index.js'
import { AUTH, SseClient, post, request, startApp } from './helper.js'
import { until } from './mcp-features.js'

// The host app registers the official SDK, as its own tracing setup would: a provider with an
// in-memory exporter, W3C propagation and an AsyncLocalStorage context manager.
const exporter = new InMemorySpanExporter()
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
propagation.setGlobalPropagator(new W3CTraceContextPropagator())

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const parentOf = (n: number) => n.toString(16).padStart(16, '0')
const traceparent = (n: number) => `00-${TRACE}-${parentOf(n)}-01`
const spanIn = (name: string, parent: number): ReadableSpan | undefined =>
  exporter.getFinishedSpans().find((s) => s.name === name && s.parentSpanContext?.spanId === parentOf(parent))

const failing = defineTool({ name: 'failing', description: 'fails as a tool', input: Type.Object({}), handler: () => ({ content: [{ type: 'text', text: 'no' }], isError: true }) })

t.test('MCP requests and envelope calls become spans in the caller\'s trace, with the semantic-convention attributes', async (t) => {
  const seen: Array<string | undefined> = []
  const upstream = http.createServer((req, res) => { seen.push(req.headers.traceparent as string | undefined); res.end('ok') })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => upstream.close())
  const upstreamHost = `127.0.0.1:${(upstream.address() as AddressInfo).port}`
  const srv = await startApp({}, async (host) => {
    await host.register(dataPulse, { tools: [failing], fetchUrl: { allowedHosts: [upstreamHost] } })
  })
  t.teardown(srv.close)

  // 2026-07-28: the trace context travels in _meta.
  const modern = (name: string, args: Record<string, unknown>, parent: number) => request('POST', `${srv.url}/mcp`, {
    headers: { ...AUTH, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name },
    body: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, traceparent: traceparent(parent) } } }
  })
  t.equal((await modern('get_time', {}, 1)).status, 200)
  const m = spanIn('tools/call get_time', 1)
  t.ok(m, 'a span named "tools/call get_time", child of the _meta traceparent')
  t.equal(m?.spanContext().traceId, TRACE, 'in the caller\'s trace')
  t.equal(m?.kind, SpanKind.SERVER)
  t.match(m?.attributes, { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'get_time', 'gen_ai.operation.name': 'execute_tool', 'jsonrpc.request.id': '7', 'mcp.protocol.version': '2026-07-28' })

  // 2025 era: the trace context travels as an HTTP header.
  const init = await request('POST', `${srv.url}/mcp`, {
    headers: { ...AUTH, accept: 'application/json, text/event-stream' },
    body: { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'trace', version: '1' } } }
  })
  const sessionId = String(init.headers['mcp-session-id'])
  const session = { ...AUTH, accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' }
  await request('POST', `${srv.url}/mcp`, { headers: session, body: { jsonrpc: '2.0', method: 'notifications/initialized' } })
  const legacy = await request('POST', `${srv.url}/mcp`, {
    headers: { ...session, traceparent: traceparent(2) },
    body: { jsonrpc: '2.0', id: 'f', method: 'tools/call', params: { name: 'fetch_url', arguments: { url: `http://${upstreamHost}/` } } }
  })
  t.equal(legacy.status, 200)
  const l = spanIn('tools/call fetch_url', 2)
  t.ok(l, 'a span child of the traceparent header')
  t.equal(l?.spanContext().traceId, TRACE)
  t.match(l?.attributes, { 'mcp.session.id': sessionId, 'jsonrpc.request.id': 'f', 'gen_ai.tool.name': 'fetch_url' })
  t.match(seen.at(-1), new RegExp(`^00-${TRACE}-${l?.spanContext().spanId}-01$`), "fetch_url's request carries the trace on, as a child of the call's span")

  // The envelope: the header too.
  const sse = await SseClient.open(`${srv.url}/events?session_id=traced`)
  t.teardown(() => sse.close())
  await post(srv.url, '/message?session_id=traced', { type: 'call_tool', request_id: 'e1', data: { name: 'get_time' } }, { ...AUTH, traceparent: traceparent(3) })
  await sse.frameFor('e1')
  await until(() => spanIn('tools/call get_time', 3) !== undefined, 'the envelope span')
  t.match(spanIn('tools/call get_time', 3)?.attributes, { 'mcp.session.id': 'traced', 'jsonrpc.request.id': 'e1' })

  // A tool that reports an error is an error span.
  await modern('failing', {}, 4)
  t.match(spanIn('tools/call failing', 4)?.attributes, { 'error.type': 'tool_error' }, 'isError: error.type tool_error')
  t.equal(spanIn('tools/call failing', 4)?.status.code, 2, 'and status ERROR')
})
