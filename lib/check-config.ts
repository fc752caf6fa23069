// `npm start` runs this before `fastify start`: it validates the environment the way the app will,
// and reports a bad setting as one line (variable, value, what is allowed) with exit code 1.
import { configFromEnv, ConfigError, resolveConfig } from '../config.js'
import { parseOrigin, parsePublicUrl } from './origin.js'
import { createPublicKey } from 'node:crypto'

try {
  const config = resolveConfig(configFromEnv())
  for (const origin of config.http.allowedOrigins) parseOrigin(origin, 'ALLOWED_ORIGINS')
  for (const origin of config.http.corsOrigins) parseOrigin(origin, 'CORS_ORIGINS')
  if (config.http.publicUrl) parsePublicUrl(config.http.publicUrl)
  if (config.auth.jwtKey) {
    try {
      createPublicKey(config.auth.jwtKey.replace(/\\n/g, '\n'))
    } catch {
      throw new ConfigError('invalid setting JWT_KEY (auth.jwtKey): must be an RSA public key in PEM ("-----BEGIN PUBLIC KEY-----…")')
    }
  }
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`${err.name}: ${err.message}`)
  process.exit(1)
}
