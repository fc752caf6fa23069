import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createCalls, type Calls } from '../lib/calls.js'

export { ClientCancelled, requestKey, type CallHandle, type Calls } from '../lib/calls.js'

declare module 'fastify' {
  interface FastifyInstance {
    calls: Calls
  }
}

export default fp(async function callsPlugin (fastify: FastifyInstance, opts: { maxConcurrentCallsPerSession: number, shutdownGraceMs: number }) {
  const calls = createCalls(opts.maxConcurrentCallsPerSession, (id) => fastify.sessions.pin?.(id) ?? (() => {}))
  fastify.decorate('calls', calls)
  fastify.addHook('preClose', async () => { await calls.drain(opts.shutdownGraceMs) })
}, { name: 'datapulse-calls', fastify: '5.x', dependencies: ['datapulse-tools', 'datapulse-sessions'] })
