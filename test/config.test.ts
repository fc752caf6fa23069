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
  t.throws(() => configFromEnv({ SESSION_TTL_SECONDS: 'soon' }), new ConfigError('SESSION_TTL_SECONDS must be a whole number, got "soon"'))
  t.throws(() => configFromEnv({ DEMO_PAGE: 'maybe' }), /DEMO_PAGE must be true or false/)
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
