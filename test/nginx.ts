import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './helper.js'

const BINARY = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p))

/** Why nginx tests cannot run here, or null. Under CI a missing nginx is a failure, not a skip. */
export function nginxUnavailable (): string | null {
  if (BINARY) return null
  const why = 'nginx is not installed (apt-get install -y nginx)'
  if (process.env.CI === 'true') throw new Error(`${why}: load-balancer tests must run under CI`)
  console.error(`\n!!! SKIPPING NGINX TESTS: ${why} !!!\n`)
  return why
}

/**
 * A real nginx on a free loopback port in front of `upstreams`, configured from the repo's own
 * deploy/nginx.conf (only the addresses are replaced), so the file users copy is the one tested.
 */
export async function startNginx (upstreams: string[]): Promise<{ url: string, stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'datapulse-nginx-'))
  const port = await freePort()
  let conf = readFileSync(new URL('../deploy/nginx.conf', import.meta.url), 'utf8')
  const servers = upstreams.map((u) => `    server ${u};`).join('\n')
  conf = conf.replace(/( {4}server 127\.0\.0\.1:800\d;\n)+/, `${servers}\n`).replace('listen 127.0.0.1:8000;', `listen 127.0.0.1:${port};`)
  conf = conf.replace('events {', `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nevents {`)
    .replace('http {', `http {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;`)
  writeFileSync(join(dir, 'nginx.conf'), conf)
  const child: ChildProcess = spawn(BINARY!, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let errors = ''
  child.stderr!.on('data', (d: Buffer) => { errors += d })
  const url = `http://127.0.0.1:${port}`
  const started = Date.now()
  while (Date.now() - started < 30_000) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${errors}`)
    try { await fetch(`${url}/health`); break } catch { await new Promise((resolve) => setTimeout(resolve, 50)) }
  }
  return {
    url,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGQUIT')
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))])
        if (child.exitCode === null) child.kill('SIGKILL')
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
