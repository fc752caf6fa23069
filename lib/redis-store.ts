import type { FastifyBaseLogger } from 'fastify'
import { AppError } from './errors.js'
import type { SessionStore } from './session-store.js'
import type { SessionOptions } from '../schemas/options.js'

// Placeholder until the Redis backend lands (issue 7): refuse to start rather than silently
// falling back to memory, which would split sessions across instances.
export async function createRedisStore (_opts: SessionOptions, _log: FastifyBaseLogger): Promise<SessionStore> {
  throw new AppError(500, 'redis_unsupported', 'REDIS_URL is set but the Redis session store is not available in this build')
}
