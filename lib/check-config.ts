// `npm start` runs this before `fastify start`: it validates the environment the way the app will,
// and reports a bad setting as one line (variable, value, what is allowed) with exit code 1.
import { configFromEnv, ConfigError, resolveConfig } from '../config.js'

try {
  resolveConfig(configFromEnv())
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`${err.name}: ${err.message}`)
  process.exit(1)
}
