import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { SseClient, freePort, post } from './helper.js'

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

t.test('npm pack, install into a fresh host app as the README says, run its sample, call its tool', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'datapulse-host-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // npm test has just built dist/; packing it is what `npm pack` (prepack: build) ships.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT })
  const tarball = join(dir, stdout.trim().split('\n').pop()!)
  const host = join(dir, 'host')
  mkdirSync(host)
  writeFileSync(join(host, 'package.json'), JSON.stringify({ name: 'host', private: true, type: 'module' }))

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
  for (let i = 0; i < 100 && !output.includes('Server listening'); i++) await new Promise((resolve) => setTimeout(resolve, 100))
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
