import { Value } from '@sinclair/typebox/value'
import { AppOptionsSchema, type AppConfig } from './schemas/options.js'
import { algorithmsFor } from './lib/security/jwt-algorithms.js'
import { ConfigError } from './lib/errors.js'
import { parseOrigin, parsePublicUrl } from './lib/security/origin.js'
import { isCidr } from './lib/http/connections.js'

type Section = keyof AppConfig
type Parse = 'string' | 'secret' | 'int' | 'bool' | 'list' | 'url'

// Each environment variable and the option it sets. Errors name the variable, so a bad
// deployment setting is found from the message alone.
const ENV: Record<string, [Section, string, Parse]> = {
  LOCAL_BEARER_TOKEN: ['auth', 'bearerToken', 'secret'],
  ALLOW_LOCAL_BEARER: ['auth', 'allowLocalBearer', 'bool'],
  AUTH_ANONYMOUS_LOOPBACK: ['auth', 'anonymous', 'bool'],
  JWT_KEY: ['auth', 'jwtKey', 'string'],
  JWT_ISSUER: ['auth', 'jwtIssuer', 'url'],
  JWT_AUDIENCE: ['auth', 'jwtAudience', 'string'],
  JWT_INTROSPECTION_URL: ['auth', 'introspectionUrl', 'url'],
  JWT_INTROSPECTION_CLIENT_ID: ['auth', 'introspectionClientId', 'string'],
  JWT_INTROSPECTION_CLIENT_SECRET: ['auth', 'introspectionClientSecret', 'secret'],
  JWT_INTROSPECTION_CACHE_MS: ['auth', 'introspectionCacheMs', 'int'],
  JWT_CLOCK_TOLERANCE_SECONDS: ['auth', 'clockToleranceSeconds', 'int'],
  DPOP_PROOF_MAX_AGE_SECONDS: ['auth', 'dpopMaxAgeSeconds', 'int'],
  JWKS_COOLDOWN_MS: ['auth', 'jwksCooldownMs', 'int'],
  JWKS_TIMEOUT_MS: ['auth', 'jwksTimeoutMs', 'int'],
  JWKS_MAX_AGE_MS: ['auth', 'jwksMaxAgeMs', 'int'],
  TICKET_TTL_SECONDS: ['auth', 'ticketTtlSeconds', 'int'],
  MAX_TICKETS_PER_SESSION: ['auth', 'maxTicketsPerSession', 'int'],
  SESSION_TTL_SECONDS: ['sessions', 'ttlSeconds', 'int'],
  SESSION_MAX_EVENTS: ['sessions', 'maxEvents', 'int'],
  SESSION_MAX_BYTES: ['sessions', 'maxBytes', 'int'],
  MAX_SESSIONS: ['sessions', 'maxSessions', 'int'],
  MAX_SESSIONS_PER_PRINCIPAL: ['sessions', 'maxSessionsPerPrincipal', 'int'],
  MAX_BYTES_PER_PRINCIPAL: ['sessions', 'maxBytesPerPrincipal', 'int'],
  MAX_RETAINED_BYTES: ['sessions', 'maxTotalBytes', 'int'],
  REDIS_URL: ['sessions', 'redisUrl', 'url'],
  REDIS_CLUSTER_NODES: ['sessions', 'redisClusterNodes', 'list'],
  REDIS_KEY_PREFIX: ['sessions', 'redisKeyPrefix', 'string'],
  SSE_PING_INTERVAL_MS: ['sse', 'pingIntervalMs', 'int'],
  SSE_WRITE_TIMEOUT_MS: ['sse', 'writeTimeoutMs', 'int'],
  SSE_RECONNECT_GRACE_MS: ['sse', 'reconnectGraceMs', 'int'],
  MAX_STREAMS_PER_PRINCIPAL: ['sse', 'maxStreamsPerPrincipal', 'int'],
  SSE_RESULT_RETRY_MS: ['sse', 'resultRetryMs', 'int'],
  BODY_LIMIT_BYTES: ['limits', 'bodyLimitBytes', 'int'],
  MAX_CONCURRENT_CALLS_PER_SESSION: ['limits', 'maxConcurrentCallsPerSession', 'int'],
  TOOL_TIMEOUT_MS: ['limits', 'toolTimeoutMs', 'int'],
  RATE_LIMIT_MAX: ['limits', 'rateLimitMax', 'int'],
  RATE_LIMIT_WINDOW_MS: ['limits', 'rateLimitWindowMs', 'int'],
  SHUTDOWN_GRACE_MS: ['limits', 'shutdownGraceMs', 'int'],
  FETCH_URL_TIMEOUT_MS: ['fetchUrl', 'timeoutMs', 'int'],
  FETCH_URL_MAX_BYTES: ['fetchUrl', 'maxBytes', 'int'],
  FETCH_URL_SNIPPET_CHARS: ['fetchUrl', 'snippetChars', 'int'],
  FETCH_URL_MAX_REDIRECTS: ['fetchUrl', 'maxRedirects', 'int'],
  FETCH_URL_MAX_CONCURRENT: ['fetchUrl', 'maxConcurrent', 'int'],
  FETCH_URL_ALLOWED_HOSTS: ['fetchUrl', 'allowedHosts', 'list'],
  ALLOWED_ORIGINS: ['http', 'allowedOrigins', 'list'],
  ALLOWED_HOSTS: ['http', 'allowedHosts', 'list'],
  PUBLIC_URL: ['http', 'publicUrl', 'url'],
  MAX_CONNECTIONS: ['http', 'maxConnections', 'int'],
  MAX_CONNECTIONS_PER_IP: ['http', 'maxConnectionsPerIp', 'int'],
  CONNECTION_LIMIT_EXEMPT: ['http', 'connectionLimitExempt', 'list'],
  REQUEST_TIMEOUT_MS: ['http', 'requestTimeoutMs', 'int'],
  CORS_ORIGINS: ['http', 'corsOrigins', 'list'],
  DEMO_PAGE: ['http', 'demoPage', 'bool'],
  METRICS: ['http', 'metrics', 'bool'],
  MCP_JSON_WINDOW_MS: ['mcp', 'jsonWindowMs', 'int'],
  MCP_CLIENT_REQUEST_TIMEOUT_MS: ['mcp', 'clientRequestTimeoutMs', 'int'],
  MCP_MAX_BATCH: ['mcp', 'maxBatch', 'int'],
  MCP_INSTRUCTIONS: ['mcp', 'instructions', 'string'],
  MCP_LIST_TTL_MS: ['mcp', 'listTtlMs', 'int'],
  MCP_STATE_TTL_MS: ['mcp', 'stateTtlMs', 'int'],
  MCP_STATE_SECRET: ['mcp', 'stateSecret', 'secret'],
  MCP_MAX_LISTENERS: ['mcp', 'maxListeners', 'int'],
  MCP_MAX_LISTENERS_PER_PRINCIPAL: ['mcp', 'maxListenersPerPrincipal', 'int'],
  TASK_TTL_MS: ['mcp', 'taskTtlMs', 'int'],
  TASK_POLL_INTERVAL_MS: ['mcp', 'taskPollIntervalMs', 'int'],
  TASK_LEASE_MS: ['mcp', 'taskLeaseMs', 'int'],
  TASK_TIMEOUT_MS: ['mcp', 'taskTimeoutMs', 'int'],
  TASK_MAX_RESULT_BYTES: ['mcp', 'taskMaxResultBytes', 'int'],
  MAX_RUNNING_TASKS: ['mcp', 'maxRunningTasks', 'int']
}

export { ConfigError }

/** What a whole-number setting allows, in words, from its schema. */
function wholeNumber (section: Section, key: string): string {
  const schema = (AppOptionsSchema.properties[section].properties as Record<string, { minimum?: number, maximum?: number }>)[key]
  const min = schema?.minimum ?? 0
  const range = schema?.maximum !== undefined ? ` from ${min} to ${schema.maximum}` : min > 0 ? ` of ${min} or more` : ''
  return `${min > 0 ? 'a positive' : 'a'} whole number${range}`
}

function parse (name: string, raw: string, kind: Parse, section: Section, key: string): unknown {
  const value = raw.trim()
  switch (kind) {
    case 'string':
    case 'secret':
    case 'url': return value
    case 'list': return value === '' ? [] : value.split(',').map((s) => s.trim()).filter(Boolean)
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(value)) return true
      if (/^(0|false|no|off)$/i.test(value)) return false
      throw new ConfigError(`invalid setting ${name}: "${raw}" must be true or false`)
    case 'int':
      if (!/^\d+$/.test(value)) throw new ConfigError(`invalid setting ${name}: "${raw}" must be ${wholeNumber(section, key)}`)
      return Number(value)
  }
}

export type PartialConfig = { [S in Section]?: Partial<AppConfig[S]> }

/** Reads the settings present in `env`; unset and empty variables are left to the defaults. */
export function configFromEnv (env: NodeJS.ProcessEnv = process.env): PartialConfig {
  const out: Record<string, Record<string, unknown>> = {}
  for (const [name, [section, key, kind]] of Object.entries(ENV)) {
    const raw = env[name]
    // An empty secret is a mistake (an unset variable in a deploy script), not "use the default".
    if (raw !== undefined && raw.trim() === '' && kind === 'secret') throw new ConfigError(`${name} is set but empty; give it a value or unset it`)
    if (raw === undefined || raw === '') continue
    out[section] ??= {}
    out[section][key] = parse(name, raw, kind, section, key)
  }
  // Read by fastify-cli, not by the app; checked here so a typo is named, not a stack trace.
  for (const name of ['PORT'] as const) {
    const raw = env[name]
    if (raw !== undefined && raw !== '' && (!/^\d+$/.test(raw.trim()) || Number(raw) > 65535)) {
      throw new ConfigError(`invalid setting ${name}: "${raw}" must be a port number from 0 to 65535`)
    }
  }
  return out as PartialConfig
}

function envNameFor (path: string): string {
  const [section, key] = path.split('/').filter(Boolean)
  const found = Object.entries(ENV).find(([, [s, k]]) => s === section && k === key)
  return found ? `${found[0]} (${section}.${key})` : path.replace(/^\//, '').replaceAll('/', '.')
}

/** Merges the given layers over the defaults and validates the result. */
export function resolveConfig (...layers: PartialConfig[]): AppConfig {
  const merged: Record<string, Record<string, unknown>> = {}
  for (const section of Object.keys(AppOptionsSchema.properties)) {
    merged[section] = {}
    for (const layer of layers) Object.assign(merged[section], layer[section as Section] ?? {})
  }
  for (const layer of layers) {
    for (const key of Object.keys(layer)) {
      if (!(key in merged)) throw new ConfigError(`unknown option section "${key}"`)
    }
  }
  const config = Value.Default(AppOptionsSchema, merged)
  const first = Value.Errors(AppOptionsSchema, config).First()
  if (first) {
    const [section, key] = first.path.split('/').filter(Boolean)
    const allowed = typeof first.value === 'number' && first.schema.type === 'integer' ? `must be ${wholeNumber(section as Section, key)}` : first.message.toLowerCase()
    throw new ConfigError(`invalid setting ${envNameFor(first.path)}: ${JSON.stringify(first.value)} ${allowed.replace(/^expected/, 'expected')}`)
  }
  checkValues(config as AppConfig)
  return config as AppConfig
}

/** What the schema cannot say: URLs, origins, cluster nodes and the JWT key must be usable. */
function checkValues (config: AppConfig): void {
  checkUrls(config)
  for (const node of config.sessions.redisClusterNodes) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(node)) {
      throw new ConfigError(`invalid setting REDIS_CLUSTER_NODES (sessions.redisClusterNodes): "${node}" must be host:port`)
    }
  }
  for (const origin of config.http.allowedOrigins) parseOrigin(origin, 'ALLOWED_ORIGINS')
  for (const origin of config.http.corsOrigins) parseOrigin(origin, 'CORS_ORIGINS')
  for (const range of config.http.connectionLimitExempt) {
    if (!isCidr(range)) throw new ConfigError(`invalid setting CONNECTION_LIMIT_EXEMPT (http.connectionLimitExempt): "${range}" must be an address or a CIDR range`)
  }
  if (config.http.publicUrl) parsePublicUrl(config.http.publicUrl)
  const { introspectionClientId: id, introspectionClientSecret: secret, introspectionUrl: url, jwtIssuer } = config.auth
  if ((id === undefined) !== (secret === undefined)) {
    throw new ConfigError('JWT_INTROSPECTION_CLIENT_ID and JWT_INTROSPECTION_CLIENT_SECRET (auth.introspectionClientId/Secret) go together: set both or neither')
  }
  if (id !== undefined && url === undefined && jwtIssuer === undefined) {
    throw new ConfigError('token introspection needs JWT_ISSUER (whose metadata names the endpoint) or JWT_INTROSPECTION_URL')
  }
  if (config.auth.jwtKey !== undefined) {
    if (algorithmsFor(config.auth.jwtKey.replace(/\\n/g, '\n')).size === 0) {
      throw new ConfigError('invalid setting JWT_KEY (auth.jwtKey): must be an RSA, EC (P-256/384/521) or Ed25519/Ed448 public key in PEM ("-----BEGIN PUBLIC KEY-----…")')
    }
  }
}

const URL_SETTINGS: Array<[string, (c: AppConfig) => string | undefined, string[]]> = [
  ['REDIS_URL (sessions.redisUrl)', (c) => c.sessions.redisUrl, ['redis:', 'rediss:']],
  ['JWT_ISSUER (auth.jwtIssuer)', (c) => c.auth.jwtIssuer, ['https:', 'http:']],
  ['JWT_INTROSPECTION_URL (auth.introspectionUrl)', (c) => c.auth.introspectionUrl, ['https:', 'http:']],
  ['PUBLIC_URL (http.publicUrl)', (c) => c.http.publicUrl, ['https:', 'http:']]
]

/** URL settings must parse and use a scheme that can work, or start fails naming them. */
function checkUrls (config: AppConfig): void {
  for (const [name, get, schemes] of URL_SETTINGS) {
    const value = get(config)
    if (value === undefined) continue
    let url: URL | undefined
    try { url = new URL(value) } catch { /* reported below */ }
    if (!url || !schemes.includes(url.protocol)) {
      throw new ConfigError(`invalid setting ${name}: "${value}" must be a URL starting with ${schemes.map((s) => `${s}//`).join(' or ')}`)
    }
  }
}

/**
 * Every environment variable with the option it sets and its default, from the one table and
 * the option schemas (what `datapulse-sse --help` prints); secrets' defaults are not shown.
 */
export function settingsList (): Array<{ name: string, option: string, default: string }> {
  const sections = AppOptionsSchema.properties as unknown as Record<string, { properties: Record<string, { default?: unknown }> }>
  return Object.entries(ENV).map(([name, [section, key, kind]]) => {
    const value = sections[section]?.properties[key]?.default
    const shown = kind === 'secret' ? (value === undefined ? '' : '(built-in)') : Array.isArray(value) ? value.join(',') : value === undefined ? '' : String(value)
    return { name, option: `${section}.${key}`, default: shown }
  })
}
