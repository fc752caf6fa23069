// `npm start` runs this before `fastify start`: it validates the environment the way the app will,
// and reports a bad setting as one line (variable, value, what is allowed) with exit code 1,
// before anything binds a port.
import { configFromEnv, ConfigError, resolveConfig } from '../config.js'
import { DEFAULT_TOKEN, localTokenAllowed } from '../lib/security/principal.js'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/

/** What fastify-cli reads besides the app's own settings, and what only the start command knows. */
function checkStart (env: NodeJS.ProcessEnv = process.env): void {
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

try {
  checkStart()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`${err.name}: ${err.message}`)
  process.exit(1)
}
