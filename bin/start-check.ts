// What `npm start` (bin/check-config.ts) and `datapulse-sse` check before anything binds a port:
// the environment the way the app will read it, and what only the start command knows.
import { configFromEnv, ConfigError, resolveConfig } from '../config.js'
import { DEFAULT_TOKEN, localTokenAllowed } from '../lib/security/principal.js'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/

/** What fastify-cli reads besides the app's own settings, and what only the start command knows. */
export function checkStart (env: NodeJS.ProcessEnv = process.env): void {
  const config = resolveConfig(configFromEnv(env))
  const level = env.LOG_LEVEL
  if (level !== undefined && level !== '' && !LOG_LEVELS.includes(level)) {
    throw new ConfigError(`invalid setting LOG_LEVEL: "${level}" must be one of ${LOG_LEVELS.join(', ')}`)
  }
  if (!localTokenAllowed(config.auth) || config.auth.bearerToken !== DEFAULT_TOKEN) return
  if (env.NODE_ENV === 'production') {
    throw new ConfigError(`LOCAL_BEARER_TOKEN is the well-known default "${DEFAULT_TOKEN}" and NODE_ENV=production: set your own token or configure JWT_KEY/JWT_ISSUER`)
  }
  const host = env.HOST
  if (host !== undefined && host !== '' && !LOOPBACK.test(host)) {
    throw new ConfigError(`refusing to listen on HOST=${host} with the default LOCAL_BEARER_TOKEN "${DEFAULT_TOKEN}": set LOCAL_BEARER_TOKEN (or JWT_KEY/JWT_ISSUER), or listen on 127.0.0.1`)
  }
}

