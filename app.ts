import { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import { configFromEnv, resolveConfig, type PartialConfig } from './config.js'
import { ConfigError } from './lib/errors.js'
import { loggerOptions } from './lib/logging/log.js'
import { setupHttp } from './lib/http/setup.js'
import type { SessionStore } from './lib/stores/session-store.js'
import type { AnyTool } from './lib/tool.js'
import authPlugin, { type AuthenticateHook } from './plugins/auth.js'
import metricsPlugin from './plugins/metrics.js'
import { registerRateLimit } from './plugins/rate-limit.js'
import callsPlugin from './plugins/calls.js'
import sessionsPlugin from './plugins/sessions.js'
import streamsPlugin from './plugins/streams.js'
import ticketsPlugin from './plugins/tickets.js'
import toolsPlugin from './plugins/tools.js'
import resourcesPlugin from './plugins/resources.js'
import promptsPlugin from './plugins/prompts.js'
import mcpPlugin from './plugins/mcp.js'
import { createHandle } from './plugins/handle.js'
import type { AnyPrompt } from './lib/prompt.js'
import type { ResourceDefinition, ResourceTemplateDefinition } from './lib/resource.js'
import demoRoute from './routes/demo.js'
import eventsRoute from './routes/events.js'
import healthRoute from './routes/health.js'
import messageRoute from './routes/message.js'
import metricsRoute from './routes/metrics.js'
import mcpRoutes from './routes/mcp.js'
import oauthMetadataRoute from './routes/oauth-metadata.js'
import sseRoutes from './routes/sse.js'
import ticketRoute from './routes/ticket.js'
import { createFetchUrlTool } from './tools/fetch-url.js'
import { getTime } from './tools/get-time.js'

export interface DataPulseOptions extends Omit<PartialConfig, 'auth'> {
  /**
   * Settings of our own auth, or `authenticate`: the host app's hook that decides who calls
   * (a principal `{ id, scopes?, expiresAt? }`, or null for 401), in place of our token checks.
   */
  auth?: PartialConfig['auth'] & { authenticate?: AuthenticateHook }
  /** Your own tools, registered beside the built-in ones. */
  tools?: AnyTool[]
  /** Resources, resource templates and prompts the MCP endpoints offer. */
  resources?: ResourceDefinition[]
  resourceTemplates?: ResourceTemplateDefinition[]
  prompts?: AnyPrompt[]
  /** Set false to leave out get_time and fetch_url. */
  builtinTools?: boolean
  /** A ready-made session store instead of the configured memory/Redis one. */
  store?: SessionStore
  /**
   * Read settings from environment variables under the given options. Off by default when a host
   * registers the plugin, so its own REDIS_URL or LOCAL_BEARER_TOKEN never reach ours; `npm start`,
   * `fastify start dist/app.js` and the Azure adapter turn it on.
   */
  env?: boolean
  /**
   * Write one access-log line per request (method, redacted URL, status, time) and per opened
   * stream. `fastify start -o` turns it on along with switching Fastify's own two lines off;
   * an embedding app that keeps Fastify's request logging leaves it off.
   */
  accessLog?: boolean
  /** The name of the run-time handle put on the host (default `dataPulse`): a second registration needs its own. */
  handle?: string
  /**
   * Requests reach this app through a proxy or a platform even though it listens on loopback
   * (the Azure adapter sets it): the default token and anonymous loopback access are refused at
   * start, since "loopback" then means everyone.
   */
  behindProxy?: boolean
}

/** Server options for `fastify start -o`: tokens and tickets never reach the logs. */
export const options: FastifyServerOptions & { accessLog: boolean, env: boolean } = {
  // Started from the command line, settings come from the environment (see DataPulseOptions.env).
  env: true,
  trustProxy: false,
  logger: loggerOptions,
  // SSE streams are long-lived; only the request (headers + body) has a deadline (REQUEST_TIMEOUT_MS,
  // set with the header deadline and how often Node checks them in lib/http/connections.ts).
  // One access-log line per request (written by the app, see `accessLog`) instead of Fastify's two.
  logController: new LogController({ disableRequestLogging: true }),
  // fastify-cli hands these options to the root plugin too: this turns the app's own line on.
  accessLog: true,
  // An idle keep-alive socket is closed after 10 s (headers must arrive within 10 s too: see
  // lib/http/connections.ts).
  keepAliveTimeout: 10_000
}


const BIND_HANDLE = Symbol('datapulse.bindHandle')
type AppOptions = DataPulseOptions & { [BIND_HANDLE]?: (app: FastifyInstance) => void }

/** Options of ours; Fastify's own for `register` are allowed too, and fastify-cli adds the keys of `options`. */
const OWN_OPTIONS = [
  'tools', 'resources', 'resourceTemplates', 'prompts', 'builtinTools', 'store', 'env', 'accessLog', 'behindProxy', 'handle',
  'auth', 'sessions', 'sse', 'limits', 'fetchUrl', 'http', 'mcp'
]
const OPTION_NAMES = new Set([...OWN_OPTIONS, 'prefix', 'logLevel', 'logSerializers'])

/**
 * The root plugin: `fastify start dist/app.js` loads it, tests and embedding apps register it.
 * Its own decorators, hooks and handlers stay inside an encapsulated context (`app` below); only
 * the run-time handle (`app.dataPulse`) is put on the host.
 */
async function dataPulse (host: FastifyInstance, opts: DataPulseOptions, envByDefault: boolean) {
  const fromCli = new Set(Object.keys(options))
  const unknown = Object.keys(opts).filter((key) => !OPTION_NAMES.has(key) && !fromCli.has(key))
  if (unknown.length > 0) {
    throw new ConfigError(`unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}: expected ${OWN_OPTIONS.join(', ')}`)
  }
  const name = opts.handle ?? 'dataPulse'
  if (host.hasDecorator(name)) {
    throw new ConfigError(`app.${name} already exists: give this registration another handle name (handle: 'other')`)
  }
  const { handle, bind } = createHandle()
  host.decorate(name, handle)
  await host.register(app, { env: envByDefault, ...opts, [BIND_HANDLE]: bind } as AppOptions)
}

/** The plugin a host registers (`import dataPulse from 'datapulse-sse'`): only its options count. */
export const dataPulsePlugin = fp((host: FastifyInstance, opts: DataPulseOptions) => dataPulse(host, opts, false), { name: 'datapulse-sse', fastify: '5.x' })

/**
 * The root plugin `fastify start dist/app.js` loads (what `npm start` runs): the same plugin,
 * reading the environment too, as a server started from the command line should.
 */
export default fp((host: FastifyInstance, opts: DataPulseOptions) => dataPulse(host, opts, true), { name: 'datapulse-sse', fastify: '5.x' })

async function app (fastify: FastifyInstance, opts: AppOptions) {
  const { tools = [], resources = [], resourceTemplates = [], prompts = [], builtinTools = true, store, env, accessLog = false, behindProxy = false, ...sections } = opts
  const { authenticate, ...authSettings } = sections.auth ?? {}
  if (authenticate !== undefined && typeof authenticate !== 'function') throw new ConfigError('auth.authenticate must be a function (request) => principal | null')
  const known: PartialConfig = {
    auth: authSettings, sessions: sections.sessions, sse: sections.sse,
    limits: sections.limits, fetchUrl: sections.fetchUrl, http: sections.http, mcp: sections.mcp
  }
  const config = resolveConfig(env ? configFromEnv() : {}, known)

  await setupHttp(fastify, config, accessLog)
  const publicUrl = config.http.publicUrl

  const builtins: AnyTool[] = builtinTools ? [getTime, createFetchUrlTool(config.fetchUrl)] : []
  await fastify.register(authPlugin, { auth: config.auth, authenticate, publicUrl, behindProxy })
  await fastify.register(sessionsPlugin, { sessions: config.sessions, store })
  await fastify.register(toolsPlugin, { tools: [...builtins, ...tools], timeoutMs: config.limits.toolTimeoutMs })
  // calls before streams: at close, in-flight calls finish and publish before streams end.
  await fastify.register(resourcesPlugin, { resources, resourceTemplates })
  await fastify.register(promptsPlugin, { prompts })
  await fastify.register(callsPlugin, config.limits)
  await fastify.register(mcpPlugin, {
    clientRequestTimeoutMs: config.mcp.clientRequestTimeoutMs,
    instructions: config.mcp.instructions,
    stateSecret: config.mcp.stateSecret,
    stateTtlMs: config.mcp.stateTtlMs,
    maxListeners: config.mcp.maxListeners,
    maxListenersPerPrincipal: config.mcp.maxListenersPerPrincipal,
    pingIntervalMs: config.sse.pingIntervalMs,
    tasks: {
      ttlMs: config.mcp.taskTtlMs,
      pollIntervalMs: config.mcp.taskPollIntervalMs,
      leaseMs: config.mcp.taskLeaseMs,
      timeoutMs: config.mcp.taskTimeoutMs,
      maxResultBytes: config.mcp.taskMaxResultBytes,
      maxRunning: config.mcp.maxRunningTasks
    }
  })
  await fastify.register(streamsPlugin, { sse: config.sse })
  await fastify.register(ticketsPlugin, { ttlSeconds: config.auth.ticketTtlSeconds, maxPerSession: config.auth.maxTicketsPerSession })
  if (config.http.metrics) await fastify.register(metricsPlugin)
  await registerRateLimit(fastify, config.limits)

  await fastify.register(healthRoute)
  if (config.auth.jwtIssuer) await fastify.register(oauthMetadataRoute, { issuer: config.auth.jwtIssuer, publicUrl })
  await fastify.register(eventsRoute)
  await fastify.register(ticketRoute)
  if (config.http.metrics) await fastify.register(metricsRoute)
  if (config.http.demoPage) await fastify.register(demoRoute)
  await fastify.register(messageRoute, { bodyLimit: config.limits.bodyLimitBytes })
  const mcp = {
    bodyLimit: config.limits.bodyLimitBytes,
    maxBatch: config.mcp.maxBatch,
    jsonWindowMs: config.mcp.jsonWindowMs,
    listTtlMs: config.mcp.listTtlMs
  }
  await fastify.register(sseRoutes, mcp)
  await fastify.register(mcpRoutes, mcp)
  opts[BIND_HANDLE]?.(fastify)
}
