// The server as users start it, shared by the bench and the profiler: `npm start`'s command line
// (package.json, its V8 flag included: docs/performance.md says why), with its shipped limits: no
// setting is raised for the load.
import { spawn } from 'node:child_process'
import net from 'node:net'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname

export async function freePort () {
  const srv = net.createServer()
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address()
  await new Promise((resolve) => srv.close(resolve))
  return port
}

/** Starts it on a free port with extra Node flags and env; resolves once /health answers. */
export async function spawnShipped ({ nodeFlags = [], env = {}, entry = 'dist/app.js' } = {}) {
  const port = await freePort()
  const proc = spawn(process.execPath, ['--no-allocation-site-pretenuring', ...nodeFlags, join(root, 'node_modules/fastify-cli/cli.js'), 'start', '-o', '-l', 'info',
    '-p', String(port), '-a', '127.0.0.1', '-g', '15000', join(root, entry)], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env, DEMO_PAGE: 'true', LOCAL_BEARER_TOKEN: 'secret_token', ...env
    }
  })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 200; i++) {
    try { await fetch(`${base}/health`); break } catch { await new Promise((resolve) => setTimeout(resolve, 50)) }
  }
  return { proc, base }
}
