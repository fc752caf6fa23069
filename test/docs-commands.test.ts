import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { freePort } from './helper.js'
import { nginxUnavailable } from './nginx.js'
import { redisUnavailable } from './redis-server.js'

// Every shell command printed in the README and docs/ runs here as printed: each ```sh block is
// executed by bash in a scratch checkout (the sources linked, its own dist/), with only the
// ports moved to free ones and `sudo` dropped (the tests run as root). Commands that install
// the machine itself, or take minutes, are named below with the test that covers them instead.
const ROOT = new URL('..', import.meta.url).pathname
const COVERED_ELSEWHERE: Array<[RegExp, string]> = [
  [/^npm install && npm start/, 'npm start runs below; npm install is what .ci/run does (npm ci)'],
  [/^npm test\b/, 'this suite'],
  [/^(sudo )?apt-get install/, 'machine setup (.ci/run installs the packages)'],
  [/^npm install fastify @sinclair\/typebox/, 'test/package-install.test.ts'],
  [/^npm pack && npm install -g \.\/datapulse-sse-[\d.]+\.tgz/, 'test/package-install.test.ts installs the tarball in a fresh folder and runs datapulse-sse from it'],
  [/^datapulse-sse (--help|--env-file)/, 'test/package-install.test.ts (--help lists every setting, --env-file takes effect)'],
  [/^npm run bench( |$)(?!-- --quick)/, 'minutes long; the same script runs as `npm run bench -- --quick` below and in test/bench.test.ts'],
  [/^curl -N -H "Authorization: Bearer secret_token" "http:\/\/localhost:8000\/events/, 'test/readme.test.ts runs the quick tour as printed'],
  [/^curl -X POST -H "Authorization: Bearer secret_token" -H "Content-Type: application\/json" +"http:\/\/localhost:8000\/message/, 'test/readme.test.ts']
]

interface Block { file: string, text: string }

function blocks (): Block[] {
  const out: Block[] = []
  for (const file of ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)]) {
    const text = readFileSync(join(ROOT, file), 'utf8')
    for (const m of text.matchAll(/```sh\n([\s\S]*?)```/g)) out.push({ file, text: m[1] })
  }
  return out
}

/** A scratch checkout: every source linked, so builds write their own dist/ and files land here. */
function scratch (): string {
  const dir = mkdtempSync(join(tmpdir(), 'datapulse-docs-'))
  for (const name of readdirSync(ROOT)) {
    if (['dist', '.git', '.tap', 'coverage', '.cache', 'bench'].includes(name)) continue
    symlinkSync(join(ROOT, name), join(dir, name))
  }
  // The bench writes its results next to itself: it gets a real folder with linked scripts.
  mkdirSync(join(dir, 'bench'))
  for (const name of readdirSync(join(ROOT, 'bench'))) if (name.endsWith('.mjs')) symlinkSync(join(ROOT, 'bench', name), join(dir, 'bench', name))
  return dir
}

/** Runs a doc block with bash; background jobs it starts are killed at the end. */
function runBlock (script: string, cwd: string, timeoutMs: number): Promise<{ code: number | null, output: string }> {
  return new Promise((resolve) => {
    // bash leads a process group of its own; every server the block starts in the background
    // stays in it, so the whole group is killed once the block is done.
    const child: ChildProcess = spawn('bash', ['-c', script], { cwd, env: { ...process.env, CI: '' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let output = ''
    child.stdout!.on('data', (d: Buffer) => { output += d })
    child.stderr!.on('data', (d: Buffer) => { output += d })
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL') } catch {} }, timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      try { process.kill(-child.pid!, 'SIGKILL') } catch { /* the group is gone already */ }
      resolve({ code, output })
    })
  })
}

/** Replaces the documented ports with free ones, consistently within a block. */
async function movePorts (text: string): Promise<string> {
  let out = text
  for (const port of new Set(text.match(/\b(8000|8001|8002|8003|8100|3000|6379|7001|7002|7003)\b/g) ?? [])) {
    out = out.replace(new RegExp(`\\b${port}\\b`, 'g'), String(await freePort()))
  }
  return out.replace(/^(sudo )?apt-get install.*$/m, '').replace(/^sudo /gm, '')
}

// Waits for the server to answer, for as long as the job started last ($!) is alive: a build
// under a loaded machine may take any time, and a server that died ends the wait at once. The
// test's own timeout is the bound.
const wait = (port: string) => `until curl -s -o /dev/null http://127.0.0.1:${port}/health; do kill -0 $! 2>/dev/null || break; sleep 0.1; done`

interface Walkthrough {
  file: string
  /** The block this runs (by a command in it), and which of its commands it covers. */
  match: RegExp
  name: string
  needs?: () => string | null
  /** The block's commands, made runnable with what follows (checks, waits) in bash. */
  script: (block: string) => Promise<string>
  expect: RegExp
  timeoutMs?: number
}

const WALKTHROUGHS: Walkthrough[] = [
  {
    file: 'README.md', name: 'npm start serves', match: /^npm install && npm start/,
    script: async () => { const p = String(await freePort()); return `PORT=${p} npm start >/dev/null 2>&1 &\n${wait(p)}\ncurl -s http://127.0.0.1:${p}/health` },
    expect: /"status":"ok"/
  },
  {
    file: 'README.md', name: 'the MCP Inspector command', match: /^npx -y -p node@24 -p @modelcontextprotocol\/inspector@2 inspector/,
    script: async (block) => { const moved = await movePorts(block); const p = /localhost:(\d+)/.exec(moved)![1]; return `PORT=${p} npm start >/dev/null 2>&1 &\n${wait(p)}\n${moved}` },
    expect: /"name": "get_time"/, timeoutMs: 150_000
  },
  {
    file: 'README.md', name: 'raw Streamable HTTP with curl', match: /^curl -si? -X POST http:\/\/localhost:8000\/mcp/,
    script: async (block) => {
      const moved = await movePorts(block)
      const p = /localhost:(\d+)/.exec(moved)![1]
      const [init, call] = moved.replace(/\\\n\s*/g, ' ').split('\n').filter((l) => l.startsWith('curl'))
      return `PORT=${p} npm start >/dev/null 2>&1 &\n${wait(p)}\nsid=$(${init} | tr -d '\\r' | sed -n 's/^mcp-session-id: //Ip')\n${call.replace('<id>', '$sid')}`
    },
    expect: /"structuredContent":\{"time":"/
  },
  {
    file: 'docs/embedding.md', name: 'the custom-tool example', match: /^npm run build && LOCAL_BEARER_TOKEN=change-me PORT=3000 node examples\/custom-tool.mjs/,
    script: async (block) => {
      const moved = await movePorts(block)
      const p = /PORT=(\d+)/.exec(moved)![1]
      const example = readFileSync(join(ROOT, 'examples/custom-tool.mjs'), 'utf8')
      const curl = /^\/\/ then: (curl .*)$/m.exec(example)![1].replace('3000', p)
      return `${moved.trim()} &\n${wait(p).replace('/health', '/datapulse/health')}\n${curl}`
    },
    expect: /"status":"accepted","request_id":"r1"/
  },
  {
    file: 'docs/mcp.md', name: 'a 2026-07-28 call with curl', match: /^curl -s -X POST http:\/\/localhost:8000\/mcp .*MCP-Protocol-Version: 2026-07-28/,
    script: async (block) => { const moved = await movePorts(block); const p = /localhost:(\d+)/.exec(moved)![1]; return `PORT=${p} npm start >/dev/null 2>&1 &\n${wait(p)}\n${moved}` },
    expect: /"resultType":"complete".*"structuredContent":\{"time":"/
  },
  {
    file: 'docs/mcp.md', name: 'npm run everything', match: /^PORT=8100 npm run everything/,
    script: async (block) => { const moved = await movePorts(block); const p = /PORT=(\d+)/.exec(moved)![1]; return `${moved.trim()} >/dev/null 2>&1 &\n${wait(p)}\ncurl -s http://127.0.0.1:${p}/health` },
    expect: /"status":"ok"/
  },
  {
    file: 'docs/performance.md', name: 'the quick bench', match: /^npm run bench( -- --quick)?/,
    script: async () => 'npm run bench -- --quick 2>&1 | tail -5', expect: /results in/, timeoutMs: 120_000
  },
  {
    file: 'docs/scaling.md', name: 'three instances behind nginx on one Redis', match: /^(redis-server --port 6379|npm run build|for p in 8001|REDIS_URL=|done|nginx -c|sudo nginx|curl -N -H "Authorization: Bearer change-me"|curl -X POST -H "Authorization: Bearer change-me")/,
    needs: () => nginxUnavailable() ?? redisUnavailable(),
    script: async (block) => {
      let moved = await movePorts(block)
      // nginx runs from a copy of deploy/nginx.conf with the same moved ports, pid and logs local.
      const [, a, b, c] = /for p in (\d+) (\d+) (\d+)/.exec(moved)!
      const lb = /127\.0\.0\.1:(\d+)\/events/.exec(moved)![1]
      let movedConf = readFileSync(join(ROOT, 'deploy/nginx.conf'), 'utf8')
        .replace('127.0.0.1:8001;', `127.0.0.1:${a};`).replace('127.0.0.1:8002;', `127.0.0.1:${b};`).replace('127.0.0.1:8003;', `127.0.0.1:${c};`)
      movedConf = movedConf.replace(/listen 127\.0\.0\.1:\d+;/, `listen 127.0.0.1:${lb};`).replace('events {', 'pid nginx.pid;\nerror_log nginx-error.log;\nevents {').replace('http {', 'http {\n  access_log off;\n  client_body_temp_path body;\n  proxy_temp_path proxy;')
      moved = moved.replace('nginx -c "$PWD/deploy/nginx.conf"', `cat > nginx.conf <<'CONF'\n${movedConf}\nCONF\nnginx -p "$PWD" -c "$PWD/nginx.conf"\nsleep 1`)

      const redisPort = /redis-server --port (\d+)/.exec(moved)![1]
      const streamed = 'until grep -q \'"request_id":"req-2"\' stream.out; do sleep 0.1; done'
      return `${moved.replace(/(curl -N [^\n]*)&/, '$1> stream.out &').replace(/(for p in [\s\S]*?done)/, `$1\n${[a, b, c].map(wait).join('\n')}`)}\n${streamed}\ncat stream.out\nnginx -p "$PWD" -c "$PWD/nginx.conf" -s quit\nredis-cli -p ${redisPort} shutdown nosave`
    },
    expect: /"request_id":"req-2"[^\n]*"time"/, timeoutMs: 120_000
  },
  {
    file: 'docs/scaling.md', name: 'a Redis Cluster', match: /^(for p in 7001|mkdir -p cluster|redis-cli --cluster create|REDIS_CLUSTER_NODES=)/,
    needs: redisUnavailable,
    script: async (block) => {
      const moved = await movePorts(block)
      const p = String(await freePort())
      const ports = /--cluster create (\S+) (\S+) (\S+)/.exec(moved)!.slice(1).map((a) => a.split(':')[1])
      return `${moved.replace(/npm start$/m, `PORT=${p} npm start >/dev/null 2>&1 &`).replace('redis-cli --cluster create', `for q in ${ports.join(' ')}; do until redis-cli -p $q ping >/dev/null 2>&1; do sleep 0.1; done; done\nredis-cli --cluster create`)}\n${wait(p)}\ncurl -s http://127.0.0.1:${p}/health\nfor q in ${ports.join(' ')}; do redis-cli -p $q shutdown nosave; done`
    },
    expect: /"store":"redis"/, timeoutMs: 120_000
  },
  {
    file: 'docs/security.md', name: 'JWT with a static key', match: /^(openssl |JWT_KEY=|TOKEN=\$\(node|const |console\.log|curl -N -H "Authorization: Bearer \$TOKEN")/,
    script: async () => {
      const text = readFileSync(join(ROOT, 'docs/security.md'), 'utf8')
      const [keys, token] = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => /openssl|TOKEN=/.test(b))
      const moved = await movePorts(keys + '\n' + token)
      const p = /localhost:(\d+)/.exec(moved)![1]
      return moved.replace(/^(JWT_KEY=.*npm start)$/m, `PORT=${p} $1 >/dev/null 2>&1 &\n${wait(p)}`).replace(/^(curl -N .*)$/m, '$1 --max-time 2 -i || true')
    },
    expect: /HTTP\/1\.1 200[\s\S]*retry: 2000/
  },
  {
    file: 'docs/security.md', name: 'JWKS discovery metadata', match: /^(JWT_ISSUER=|curl -s http:\/\/localhost:8000\/\.well-known)/,
    script: async (block) => {
      const moved = await movePorts(block)
      const p = /localhost:(\d+)/.exec(moved)![1]
      return moved.replace(/^(JWT_ISSUER=.*npm start)$/m, `PORT=${p} $1 >/dev/null 2>&1 &\n${wait(p)}`)
    },
    expect: /"authorization_servers":\["https:\/\/login\.example\.com\/realms\/acme"\]/
  }
]

// One scratch checkout for every walkthrough, so each `npm start` rebuilds incrementally.
let shared: string | undefined
t.teardown(() => { if (shared) rmSync(shared, { recursive: true, force: true }) })

for (const w of WALKTHROUGHS) {
  t.test(`${w.file}: ${w.name}, as printed`, { timeout: (w.timeoutMs ?? 90_000) + 10_000 }, async (t) => {
    const why = w.needs?.()
    if (why) { t.skip(why); return }
    const block = blocks().find((b) => b.file === w.file && b.text.replace(/\\\n\s*/g, ' ').split('\n').some((l) => w.match.test(l.trim())))
    t.ok(block, 'the block is in the docs')
    if (!block) return
    const dir = shared ??= scratch()
    const script = await w.script(block.text)
    const { output } = await runBlock(script, dir, w.timeoutMs ?? 90_000)
    if (!w.expect.test(output)) t.comment(`script:\n${script}`)
    t.match(output, w.expect, `it worked:\n${output.slice(-1500)}`)
  })
}

t.test('every command of the README and docs is covered', async (t) => {
  const lines = blocks().flatMap((b) => b.text.replace(/\\\n\s*/g, ' ').split('\n').map((l) => ({ file: b.file, line: l.trim() })))
    .filter(({ line }) => line !== '' && !line.startsWith('#'))
  t.ok(lines.length > 20, `${lines.length} commands`)
  for (const { file, line } of lines) {
    const elsewhere = COVERED_ELSEWHERE.find(([re]) => re.test(line))
    const runHere = WALKTHROUGHS.some((w) => w.file === file && w.match.test(line))
    t.ok(elsewhere || runHere, `${file}: "${line.slice(0, 80)}" is run here or by ${elsewhere?.[1] ?? '(nothing!)'}`)
  }
})

