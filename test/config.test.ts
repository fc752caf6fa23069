import t from 'tap'
import Fastify from 'fastify'
import dataPulse from '../app.js'
import { ConfigError, configFromEnv, resolveConfig } from '../config.js'

t.test('defaults', async (t) => {
  const c = resolveConfig({})
  t.equal(c.auth.bearerToken, 'secret_token')
  t.equal(c.sessions.ttlSeconds, 3600)
  t.equal(c.sse.pingIntervalMs, 15_000)
  t.equal(c.limits.bodyLimitBytes, 65_536)
  t.equal(c.fetchUrl.maxRedirects, 3)
})

t.test('environment variables map to options', async (t) => {
  const c = resolveConfig(configFromEnv({
    LOCAL_BEARER_TOKEN: 'tok', SESSION_TTL_SECONDS: '60', SSE_PING_INTERVAL_MS: '1000',
    FETCH_URL_ALLOWED_HOSTS: 'a.internal, b.internal:8080', DEMO_PAGE: 'true', JWT_AUDIENCE: ''
  }))
  t.equal(c.auth.bearerToken, 'tok')
  t.equal(c.sessions.ttlSeconds, 60)
  t.equal(c.sse.pingIntervalMs, 1000)
  t.same(c.fetchUrl.allowedHosts, ['a.internal', 'b.internal:8080'])
  t.equal(c.http.demoPage, true)
  t.equal(c.auth.jwtAudience, undefined, 'an empty variable is unset')
})

t.test('invalid values name the variable', async (t) => {
  t.throws(() => configFromEnv({ SESSION_TTL_SECONDS: 'soon' }), new ConfigError('invalid setting SESSION_TTL_SECONDS: "soon" must be a positive whole number of 1 or more'))
  t.throws(() => configFromEnv({ DEMO_PAGE: 'maybe' }), /invalid setting DEMO_PAGE: "maybe" must be true or false/)
  t.throws(() => resolveConfig(configFromEnv({ SESSION_TTL_SECONDS: '0' })), /SESSION_TTL_SECONDS \(sessions.ttlSeconds\)/)
  t.throws(() => resolveConfig(configFromEnv({ TICKET_TTL_SECONDS: '600' })), /TICKET_TTL_SECONDS/)
  t.throws(() => resolveConfig({ sessions: { bogus: 1 } as never }), /sessions/)
  t.throws(() => resolveConfig({ nope: {} } as never), /unknown option section "nope"/)
})

t.test('registering with bad options fails start with the message', async (t) => {
  const app = Fastify({ logger: false })
  app.register(dataPulse, { env: false, sessions: { ttlSeconds: -5 } })
  await t.rejects(app.ready(), /sessions.ttlSeconds/)
  await app.close()
})

t.test('every environment variable is documented in docs/configuration.md', async (t) => {
  const { readFile } = await import('node:fs/promises')
  const doc = await readFile(new URL('../docs/configuration.md', import.meta.url), 'utf8')
  const source = await readFile(new URL('../config.ts', import.meta.url), 'utf8')
  const names = [...source.matchAll(/^ {2}([A-Z][A-Z0-9_]+): \[/gm)].map((m) => m[1])
  t.ok(names.length > 40, `${names.length} variables`)
  for (const name of names) t.match(doc, new RegExp(`\\| \`${name}\``), `${name} is in the table`)
})
