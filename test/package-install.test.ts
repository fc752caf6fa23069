import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { SseClient, freePort, post, request } from './helper.js'

const run = promisify(execFile)
const ROOT = new URL('..', import.meta.url).pathname

/** The README's embedding sample and the install command printed above it. */
function readmeSample (): { install: string, code: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Embed in your Fastify app'), readme.indexOf('\n## ', readme.indexOf('## Embed in your Fastify app') + 1))
  const install = /```sh\n(npm install [^\n]+)\n```/.exec(section)?.[1]
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1]
  if (!install || !code) throw new Error('the README has no embedding sample')
  return { install, code }
}

/**
 * The package as `npm pack` ships it (npm test has just built dist/; prepack builds it too), in a
 * temporary directory beside an empty project folder `name`, removed when the test ends.
 */
async function packed (t: { teardown (fn: () => void): void }, name: string, pkg: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), `datapulse-${name}-`))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT })
  const folder = join(dir, name)
  mkdirSync(folder)
  writeFileSync(join(folder, 'package.json'), JSON.stringify({ name, private: true, ...pkg }))
  return { dir, tarball: join(dir, stdout.trim().split('\n').pop()!), folder }
}

t.test('npm pack, install into a fresh host app as the README says, run its sample, call its tool', { timeout: 180_000 }, async (t) => {
  const { dir, tarball, folder: host } = await packed(t, 'host', { type: 'module' })

  const { install, code } = readmeSample()
  t.match(install, /^npm install fastify @sinclair\/typebox \/path\/to\/datapulse-sse-[\d.]+\.tgz$/, 'the README names the peers to install')
  const args = install.split(' ').slice(1).map((a) => a.startsWith('/path/to/') ? tarball : a)
  try {
    // The peers come from the npm registry (through npm's cache when it has them), as for a user.
    await run('npm', [...args, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: host, timeout: 120_000 })
  } catch (err) {
    const why = `npm install from the registry failed: ${(err as Error).message.split('\n')[0]}`
    if (process.env.CI === 'true') throw err
    console.error(`\n!!! SKIPPING PACKAGE INSTALL TEST: ${why} !!!\n`)
    t.skip(why)
    return
  }
  // A light install: what only some deployments need (Redis, Azure, the CLI, CORS, rate limiting)
  // is an optional peer, so the embed gets only what every deployment uses.
  const baseline = join(dir, 'baseline')
  mkdirSync(baseline)
  writeFileSync(join(baseline, 'package.json'), JSON.stringify({ name: 'baseline', private: true, type: 'module' }))
  await run('npm', ['install', 'fastify', '@sinclair/typebox', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: baseline, timeout: 120_000 })
  const count = async (where: string) => (await run('npm', ['ls', '--all', '--parseable'], { cwd: where }).catch((err) => err)).stdout.trim().split('\n').length - 1
  const extra = await count(host) - await count(baseline)
  t.ok(extra <= 27, `the plugin adds ${extra} packages beyond fastify and typebox`)
  for (const optional of ['redis', '@azure/functions', 'fastify-cli', '@fastify/cors', '@fastify/rate-limit']) {
    t.notOk(existsSync(join(host, 'node_modules', optional)), `${optional} is not installed unless asked for`)
  }

  const port = await freePort()
  writeFileSync(join(host, 'app.mjs'), code.replace('port: 3000', `port: ${port}, host: '127.0.0.1'`))
  const child = spawn(process.execPath, ['app.mjs'], { cwd: host, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'development' } })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d })
  child.stderr.on('data', (d: Buffer) => { output += d })
  t.teardown(() => child.kill('SIGKILL'))
  const base = `http://127.0.0.1:${port}/datapulse`
  const started = Date.now()
  while (!output.includes('Server listening') && child.exitCode === null && Date.now() - started < 60_000) await new Promise((resolve) => setTimeout(resolve, 100))
  t.match(output, /Server listening/, 'the sample starts')

  const auth = { authorization: 'Bearer change-me' }
  const stream = await SseClient.open(`${base}/events?session_id=host`, auth)
  t.teardown(() => stream.close())
  t.equal(stream.status, 200)
  const accepted = await post(base, '/message?session_id=host', { type: 'call_tool', request_id: 'dice', data: { name: 'roll_dice', sides: 12 } }, auth)
  t.equal(accepted.status, 202)
  const frame = await stream.frameFor('dice')
  t.equal(frame.type, 'tool_result')
  t.equal(frame.data.sides, 12)
  t.ok(frame.data.roll >= 1 && frame.data.roll <= 12, `rolled ${frame.data.roll}`)
})

t.test('npx datapulse-sse from a folder with only the tarball: --help lists every setting, --env-file takes effect', { timeout: 180_000 }, async (t) => {
  const { tarball, folder } = await packed(t, 'fresh')
  try {
    // Only the tarball: npm brings its required peers (fastify, typebox) itself.
    await run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: folder, timeout: 120_000 })
  } catch (err) {
    if (process.env.CI === 'true') throw err
    console.error(`\n!!! SKIPPING BIN TEST: npm install failed: ${(err as Error).message.split('\n')[0]} !!!\n`)
    t.skip('npm install failed')
    return
  }
  const { settingsList } = await import('../config.js')
  const help = (await run('npx', ['--no-install', 'datapulse-sse', '--help'], { cwd: folder })).stdout
  const missing = ['PORT', 'HOST', 'LOG_LEVEL', ...settingsList().map((s) => s.name)].filter((name) => !new RegExp(`^  ${name} `, 'm').test(help))
  t.same(missing, [], `--help lists all ${settingsList().length + 3} settings`)
  t.match(help, /MAX_SESSIONS_PER_PRINCIPAL\s+= 0/, 'with their defaults')

  const port = await freePort()
  writeFileSync(join(folder, 'settings.env'), `PORT=${port}\nLOCAL_BEARER_TOKEN=from-the-env-file\nDEMO_PAGE=false\n`)
  const started = Date.now()
  const child = spawn('npx', ['--no-install', 'datapulse-sse', '--env-file', 'settings.env'], { cwd: folder, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d })
  child.stderr.on('data', (d: Buffer) => { output += d })
  t.teardown(() => { try { process.kill(-child.pid!, 'SIGKILL') } catch { /* gone */ } })
  const base = `http://127.0.0.1:${port}`
  let health = 0
  while (health !== 200 && Date.now() - started < 60_000) {
    health = await request('GET', `${base}/health`).then((r) => r.status, () => 0)
    if (health !== 200) await new Promise((resolve) => setTimeout(resolve, 200))
  }
  t.equal(health, 200, `/health answers within 60 s (${((Date.now() - started) / 1000).toFixed(1)} s)`)
  const body = { type: 'list_tools', request_id: 'r' }
  t.equal((await post(base, '/message?session_id=bin', body, { authorization: 'Bearer from-the-env-file' })).status, 202, "the env file's token is the server's")
  t.equal((await post(base, '/message?session_id=bin', body, { authorization: 'Bearer secret_token' })).status, 401, 'and the default one is not')
  t.equal((await request('GET', `${base}/`)).status, 404, 'DEMO_PAGE=false from the file took effect')
  t.notMatch(output, /^\s+at /m, 'no stack trace')
})
