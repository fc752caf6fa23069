import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import t from 'tap'
import { startApp } from './helper.js'

const ROOT = new URL('..', import.meta.url).pathname
const page = readFileSync(join(ROOT, 'docs/clients.md'), 'utf8')
const snippets = [...page.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1])

t.test("every configuration on the clients page is JSON a client can read", async (t) => {
  t.ok(snippets.length >= 3, `${snippets.length} snippets`)
  for (const text of snippets) t.doesNotThrow(() => JSON.parse(text), text.split('\n')[1])
  const vscode = JSON.parse(snippets[0])
  t.equal(vscode.servers.datapulse.type, 'http', 'VS Code connects over HTTP itself')
  t.match(vscode.servers.datapulse.url, /\/mcp$/)
})

t.test("Claude Desktop's documented mcp-remote line: an SDK client over stdio reaches the server", async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const claude = JSON.parse(snippets.find((s) => s.includes('mcp-remote'))!).mcpServers.datapulse as { command: string, args: string[], env: Record<string, string> }
  t.equal(claude.command, 'npx')
  // The same arguments the page prints, after `npx -y mcp-remote`, with this server's URL.
  const args = claude.args.slice(claude.args.indexOf('mcp-remote') + 1).map((a) => a.replace('http://127.0.0.1:8000', srv.url))
  const require = createRequire(import.meta.url)
  const pkg = require.resolve('mcp-remote/package.json')
  const bin = (JSON.parse(readFileSync(pkg, 'utf8')) as { bin: Record<string, string> }).bin['mcp-remote']
  const home = mkdtempSync(join(tmpdir(), 'mcp-remote-'))
  t.teardown(() => rmSync(home, { recursive: true, force: true }))
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(dirname(pkg), bin), ...args],
    env: { ...process.env as Record<string, string>, ...claude.env, MCP_REMOTE_CONFIG_DIR: home, HOME: home },
    stderr: 'pipe'
  })
  let log = ''
  transport.stderr?.on('data', (d: Buffer) => { log += d })
  const client = new Client({ name: 'desktop-like', version: '1' })
  await client.connect(transport)
  t.teardown(() => client.close())
  const tools = (await client.listTools()).tools.map((tool) => tool.name)
  t.ok(tools.includes('get_time'), `tools/list through mcp-remote: ${tools.join(', ')}`)
  const result = await client.callTool({ name: 'get_time', arguments: {} }) as { structuredContent?: { time?: string } }
  t.match(result.structuredContent?.time, /^\d{4}-\d\d-\d\dT/, 'tools/call through mcp-remote')
  t.notMatch(log, /401|Unauthorized/, 'the token went through as the header')
})
