import { spawn } from 'node:child_process'
import t from 'tap'

const ROOT = new URL('..', import.meta.url)

/** Runs a command with one bad setting; resolves with its exit code and output. */
function run (args: string[], env: Record<string, string>): Promise<{ code: number | null, output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, DEMO_PAGE: 'false', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d })
    child.stderr.on('data', (d: Buffer) => { output += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, output }) })
  })
}

const cases: Array<[Record<string, string>, RegExp]> = [
  [{ JWT_KEY: 'garbage' }, /^ConfigError: invalid setting JWT_KEY \(auth\.jwtKey\): must be an RSA, EC \(P-256\/384\/521\) or Ed25519\/Ed448 public key in PEM/m],
  [{ REDIS_URL: 'notaurl' }, /^ConfigError: invalid setting REDIS_URL \(sessions\.redisUrl\): "notaurl" must be a URL starting with redis:\/\/ or rediss:\/\//m],
  [{ CORS_ORIGINS: 'notaurl' }, /^ConfigError: CORS_ORIGINS: "notaurl" is not an origin/m],
  [{ ALLOWED_ORIGINS: 'https://x.example/path' }, /^ConfigError: ALLOWED_ORIGINS: "https:\/\/x\.example\/path" is not an origin/m],
  [{ LOCAL_BEARER_TOKEN: '' }, /^ConfigError: LOCAL_BEARER_TOKEN is set but empty/m],
  [{ PORT: 'abc' }, /^ConfigError: invalid setting PORT: "abc" must be a port number from 0 to 65535/m],
  [{ SESSION_TTL_SECONDS: '-1' }, /^ConfigError: invalid setting SESSION_TTL_SECONDS: "-1" must be a positive whole number of 1 or more/m],
  [{ SESSION_TTL_SECONDS: '0' }, /^ConfigError: invalid setting SESSION_TTL_SECONDS \(sessions\.ttlSeconds\): 0 must be a positive whole number of 1 or more/m],
  [{ PUBLIC_URL: 'ftp://x' }, /^ConfigError: invalid setting PUBLIC_URL \(http\.publicUrl\): "ftp:\/\/x" must be a URL/m],
  [{ JWT_ISSUER: 'issuer' }, /^ConfigError: invalid setting JWT_ISSUER/m],
  [{ LOG_LEVEL: 'verbose' }, /^ConfigError: invalid setting LOG_LEVEL: "verbose" must be one of fatal, error, warn, info, debug, trace, silent$/m],
  [{ NODE_ENV: 'production' }, /^ConfigError: LOCAL_BEARER_TOKEN is the well-known default "secret_token" and NODE_ENV=production/m],
  [{ HOST: '0.0.0.0' }, /^ConfigError: refusing to listen on HOST=0\.0\.0\.0 with the default LOCAL_BEARER_TOKEN/m]
]

t.test('a bad setting stops `npm start` with one line naming the variable', async (t) => {
  // `npm start` is build, then dist/bin/check-config.js, then fastify start.
  const results = await Promise.all(cases.map(([env]) => run(['dist/bin/check-config.js'], env)))
  cases.forEach(([env, message], i) => {
    const { code, output } = results[i]
    const what = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')
    t.equal(code, 1, `${what}: exits 1`)
    t.match(output, message, `${what}: names the variable and what is allowed`)
    t.equal(output.trim().split('\n').length, 1, `${what}: in one line, no stack trace`)
  })
  const fine = await run(['dist/bin/check-config.js'], { LOCAL_BEARER_TOKEN: 'ok', PORT: '8123' })
  t.equal(fine.code, 0, 'good settings pass the check')
  const exposed = await run(['dist/bin/check-config.js'], { LOCAL_BEARER_TOKEN: 'a-token-of-my-own', HOST: '0.0.0.0', NODE_ENV: 'production', LOG_LEVEL: 'warn' })
  t.equal(exposed.code, 0, 'with a token of its own it may listen anywhere, in production')
})

t.test('run straight with `fastify start`, a bad setting still stops it, naming the variable', async (t) => {
  const { code, output } = await run(['node_modules/fastify-cli/cli.js', 'start', '-o', '-p', '0', '-a', '127.0.0.1', 'dist/app.js'], { JWT_KEY: 'garbage' })
  t.not(code, 0)
  t.match(output, /ConfigError: invalid setting JWT_KEY/)
  t.notMatch(output, /^\s+at /m, 'no stack trace')
})
