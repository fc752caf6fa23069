// `npm start` runs this before `fastify start`: it validates the environment the way the app will,
// and reports a bad setting as one line (variable, value, what is allowed) with exit code 1,
// before anything binds a port.
import { ConfigError } from '../config.js'
import { checkStart } from './start-check.js'

try {
  checkStart()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`${err.name}: ${err.message}`)
  process.exit(1)
}
