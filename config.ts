import { Value } from '@sinclair/typebox/value'
import { AppOptionsSchema, type AppConfig } from './schemas/options.js'
import { ConfigError } from './lib/errors.js'

type Section = keyof AppConfig
type Parse = 'string' | 'secret' | 'int' | 'bool' | 'list'

// Each environment variable and the option it sets. Errors name the variable, so a bad
// deployment setting is found from the message alone.
const ENV: Record<string, [Section, string, Parse]> = {
  LOCAL_BEARER_TOKEN: ['auth', 'bearerToken', 'secret'],
  ALLOW_LOCAL_BEARER: ['auth', 'allowLocalBearer', 'bool'],
  AUTH_ANONYMOUS_LOOPBACK: ['auth', 'anonymous', 'bool'],
  JWT_KEY: ['auth', 'jwtKey', 'string'],
  JWT_ISSUER: ['auth', 'jwtIssuer', 'string'],
  JWT_AUDIENCE: ['auth', 'jwtAudience', 'string'],
  JWT_CLOCK_TOLERANCE_SECONDS: ['auth', 'clockToleranceSeconds', 'int'],
  JWKS_COOLDOWN_MS: ['auth', 'jwksCooldownMs', 'int'],
  JWKS_TIMEOUT_MS: ['auth', 'jwksTimeoutMs', 'int'],
  JWKS_MAX_AGE_MS: ['auth', 'jwksMaxAgeMs', 'int'],
  TICKET_TTL_SECONDS: ['auth', 'ticketTtlSeconds', 'int'],
  MAX_TICKETS_PER_PRINCIPAL: ['auth', 'maxTicketsPerPrincipal', 'int'],
  SESSION_TTL_SECONDS: ['sessions', 'ttlSeconds', 'int'],
  SESSION_MAX_EVENTS: ['sessions', 'maxEvents', 'int'],
  SESSION_MAX_BYTES: ['sessions', 'maxBytes', 'int'],
  MAX_SESSIONS: ['sessions', 'maxSessions', 'int'],
  MAX_SESSIONS_PER_PRINCIPAL: ['sessions', 'maxSessionsPerPrincipal', 'int'],
  MAX_BYTES_PER_PRINCIPAL: ['sessions', 'maxBytesPerPrincipal', 'int'],
  MAX_RETAINED_BYTES: ['sessions', 'maxTotalBytes', 'int'],
  REDIS_URL: ['sessions', 'redisUrl', 'string'],
  REDIS_KEY_PREFIX: ['sessions', 'redisKeyPrefix', 'string'],
  SSE_PING_INTERVAL_MS: ['sse', 'pingIntervalMs', 'int'],
  SSE_WRITE_TIMEOUT_MS: ['sse', 'writeTimeoutMs', 'int'],
  SSE_RECONNECT_GRACE_MS: ['sse', 'reconnectGraceMs', 'int'],
  MAX_STREAMS_PER_PRINCIPAL: ['sse', 'maxStreamsPerPrincipal', 'int'],
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
  FETCH_URL_ALLOWED_HOSTS: ['fetchUrl', 'allowedHosts', 'list'],
  ALLOWED_ORIGINS: ['http', 'allowedOrigins', 'list'],
  ALLOWED_HOSTS: ['http', 'allowedHosts', 'list'],
  PUBLIC_URL: ['http', 'publicUrl', 'string'],
  MAX_CONNECTIONS: ['http', 'maxConnections', 'int'],
  MAX_CONNECTIONS_PER_IP: ['http', 'maxConnectionsPerIp', 'int'],
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
  MCP_MAX_LISTENERS_PER_PRINCIPAL: ['mcp', 'maxListenersPerPrincipal', 'int']
}

export { ConfigError }

function parse (name: string, raw: string, kind: Parse): unknown {
  const value = raw.trim()
  switch (kind) {
    case 'string':
    case 'secret': return value
    case 'list': return value === '' ? [] : value.split(',').map((s) => s.trim()).filter(Boolean)
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(value)) return true
      if (/^(0|false|no|off)$/i.test(value)) return false
      throw new ConfigError(`${name} must be true or false, got "${raw}"`)
    case 'int':
      if (!/^\d+$/.test(value)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`)
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
    out[section][key] = parse(name, raw, kind)
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
  if (first) throw new ConfigError(`invalid setting ${envNameFor(first.path)}: ${first.message}`)
  return config as AppConfig
}
