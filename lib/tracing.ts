import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context } from '@opentelemetry/api'
import { packageInfo } from './package-info.js'

// Through @opentelemetry/api only: a no-op until the host registers an SDK (a tracer provider,
// a propagator, a context manager). No exporter or collector is ours.
const tracer = trace.getTracer('datapulse-sse', packageInfo.version)

export interface TraceTarget {
  /** The JSON-RPC method (`tools/call`) or the envelope's equivalent. */
  method: string
  /** The tool, prompt or resource the request is about. */
  name?: string
  requestId?: string | number
  sessionId?: string
  protocolVersion?: string
  /**
   * Where the caller's W3C trace context is: 2026-07-28 carries `traceparent`/`tracestate` in
   * `params._meta`, the 2025 era and the envelope in HTTP headers; `_meta` wins when it has one.
   */
  meta?: Record<string, unknown>
  headers?: Record<string, unknown>
}

const hasTraceparent = (carrier: Record<string, unknown> | undefined): carrier is Record<string, unknown> =>
  carrier !== undefined && typeof carrier.traceparent === 'string'

/** The span's attributes, per the OpenTelemetry semantic conventions for MCP (server side). */
function attributesOf (t: TraceTarget): Attributes {
  const a: Attributes = { 'mcp.method.name': t.method, 'network.transport': 'tcp' }
  if (t.requestId !== undefined) a['jsonrpc.request.id'] = String(t.requestId)
  if (t.sessionId) a['mcp.session.id'] = t.sessionId
  if (t.protocolVersion) a['mcp.protocol.version'] = t.protocolVersion
  if (t.name !== undefined) {
    if (t.method === 'tools/call') { a['gen_ai.tool.name'] = t.name; a['gen_ai.operation.name'] = 'execute_tool' }
    else if (t.method === 'prompts/get') a['gen_ai.prompt.name'] = t.name
    else if (t.method.startsWith('resources/')) a['mcp.resource.uri'] = t.name
  }
  return a
}

/**
 * Runs `work` in a SERVER span named `{mcp.method.name} {target}` (the tool or prompt name; never a
 * resource URI, which would make names unbounded), parented on the caller's trace context. A
 * thrown error or a tool result with `isError` marks the span an error (`error.type`). With no SDK
 * registered the span does not record and `work` runs as it is.
 */
export function traced<T> (target: TraceTarget, work: () => Promise<T>): Promise<T> {
  const carrier = hasTraceparent(target.meta) ? target.meta : target.headers
  const parent: Context = carrier ? propagation.extract(context.active(), carrier) : context.active()
  const low = target.name !== undefined && (target.method === 'tools/call' || target.method === 'prompts/get')
  const span = tracer.startSpan(low ? `${target.method} ${target.name}` : target.method, { kind: SpanKind.SERVER }, parent)
  // Without an SDK the span is a no-op: nothing more is built per request.
  if (!span.isRecording()) return work()
  span.setAttributes(attributesOf(target))
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      const result = await work()
      if ((result as { isError?: unknown } | null)?.isError === true) {
        span.setAttribute('error.type', 'tool_error')
        span.setStatus({ code: SpanStatusCode.ERROR })
      }
      return result
    } catch (err) {
      const code = (err as { code?: unknown }).code
      span.setAttribute('error.type', typeof code === 'number' || typeof code === 'string' ? String(code) : (err as Error).name ?? 'Error')
      if (typeof code === 'number') span.setAttribute('rpc.response.status_code', String(code))
      span.recordException(err as Error)
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message })
      throw err
    } finally {
      span.end()
    }
  })
}

/** Adds the active trace context to outgoing request headers (fetch_url). */
export function injectTraceContext (headers: Record<string, string>): Record<string, string> {
  propagation.inject(context.active(), headers)
  return headers
}
