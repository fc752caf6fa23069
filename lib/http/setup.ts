import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance } from 'fastify'
import { AppError } from '../errors.js'
import { loadOptional } from '../optional.js'
import { accessLine, lazyChildLoggerFactory, loggerOptions, redactUrl } from '../logging/log.js'
import { createRequestGuard, parseOrigin } from '../security/origin.js'
import { limitConnections } from './connections.js'
import type { AppConfig } from '../../schemas/options.js'

// Fastify's own 4xx errors (bad JSON, body too large…) get the same stable codes as ours.
const CLIENT_ERROR_CODES: Record<number, string> = {
  400: 'invalid_request',
  404: 'not_found',
  413: 'body_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited'
}

function errorBody (statusCode: number, code: string, message: string) {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', code, message }
}

/**
 * Ajv's text for a value that must be one of several constants repeats "must be equal to constant"
 * for each; this names the allowed values once (`body/type must be one of "list_tools", "call_tool"`).
 */
function validationMessage (err: FastifyError): string {
  const failures = (err.validation ?? []) as Array<{ keyword: string, instancePath: string, params: { allowedValue?: unknown } }>
  const consts = failures.filter((f) => f.keyword === 'const')
  if (consts.length > 1 && consts.every((f) => f.instancePath === consts[0].instancePath)) {
    return `${err.validationContext ?? 'body'}${consts[0].instancePath} must be one of ${consts.map((f) => JSON.stringify(f.params.allowedValue)).join(', ')}`
  }
  return err.message
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether the app writes its own access-log lines (see DataPulseOptions.accessLog). */
    accessLog: boolean
  }
}

/**
 * What every route of the app shares over HTTP: CORS when configured, stable error bodies, the
 * socket limits, the access log and its redaction, the Host/Origin guard and lenient body types.
 */
export async function setupHttp (fastify: FastifyInstance, config: AppConfig, accessLog: boolean): Promise<void> {
  if (config.http.corsOrigins.length > 0) {
    const { default: cors } = await loadOptional<typeof import('@fastify/cors')>('@fastify/cors', 'CORS_ORIGINS (http.corsOrigins)')
    await fastify.register(cors, {
      origin: config.http.corsOrigins,
      allowedHeaders: ['authorization', 'content-type', 'last-event-id', 'mcp-session-id', 'mcp-protocol-version'],
      exposedHeaders: ['mcp-session-id', 'www-authenticate', 'retry-after'],
      methods: ['GET', 'POST', 'DELETE'],
      maxAge: 600
    })
  }

  fastify.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    // Refused before its body was read (401, 413, 429…): the rest of the body is not waited for.
    if (!request.raw.complete) reply.header('connection', 'close')
    if (err instanceof AppError) {
      if (err.statusCode === 403) request.log.warn({ code: err.code, principal: request.principal?.id }, err.message)
      return reply.code(err.statusCode).headers(err.headers).send(errorBody(err.statusCode, err.code, err.message))
    }
    if ('validation' in err && err.validation) {
      return reply.code(400).send(errorBody(400, 'invalid_request', validationMessage(err)))
    }
    const status = err.statusCode ?? 500
    if (status >= 500) {
      request.log.error({ err }, 'request failed')
      return reply.code(status).send(errorBody(status, 'internal_error', 'internal server error'))
    }
    return reply.code(status).send(errorBody(status, CLIENT_ERROR_CODES[status] ?? 'bad_request', err.message))
  })
  fastify.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody(404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`))
  })

  limitConnections(fastify, {
    max: config.http.maxConnections,
    perIp: config.http.maxConnectionsPerIp,
    exempt: config.http.connectionLimitExempt,
    requestTimeoutMs: config.http.requestTimeoutMs
  })

  // With Fastify's own request logging off (as `npm start` runs it), one line per request:
  // method, redacted URL, status and time. A host that keeps Fastify's lines is not logged twice.
  fastify.decorate('accessLog', accessLog)
  // Our routes' request loggers are made when first used (most requests only write the access line).
  fastify.setChildLoggerFactory(lazyChildLoggerFactory)
  if (accessLog) {
    fastify.addHook('onResponse', (request, reply, done) => {
      accessLine(request.log, { method: request.method, url: redactUrl(request.url), statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request')
      done()
    })
  }

  // Request lines of our routes go through our serializer whatever logger the host configured
  // (fastify start without -o, an embedding app): ticket values never reach a log.
  fastify.addHook('onRoute', (route) => {
    route.logSerializers = { req: loggerOptions.serializers.req, ...route.logSerializers }
  })

  // DNS-rebinding protection on every route of the app (not on a host app's own routes).
  fastify.addHook('onRequest', createRequestGuard({
    publicUrl: config.http.publicUrl,
    allowedHosts: config.http.allowedHosts,
    allowedOrigins: [
      ...config.http.allowedOrigins.map((o) => parseOrigin(o, 'ALLOWED_ORIGINS')),
      ...config.http.corsOrigins.map((o) => parseOrigin(o, 'CORS_ORIGINS'))
    ]
  }))

  // curl -d sends form encoding by default; envelope bodies are JSON whatever the label says.
  fastify.addContentTypeParser(['text/plain', 'application/x-www-form-urlencoded'], { parseAs: 'string' },
    fastify.getDefaultJsonParser('error', 'error'))
}
