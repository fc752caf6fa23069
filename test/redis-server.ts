import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './helper.js'

const BINARY = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p))

/**
 * Why Redis tests cannot run here, or null when they can. Under CI a missing server is a
 * failure, not a skip.
 */
export function redisUnavailable (): string | null {
  if (BINARY) return null
  const why = 'redis-server is not installed (apt-get install -y redis-server)'
  if (process.env.CI === 'true') throw new Error(`${why}: Redis tests must run under CI`)
  console.error(`\n!!! SKIPPING REDIS TESTS: ${why} !!!\n`)
  return why
}

export interface RedisServer {
  url: string
  port: number
  stop: () => Promise<void>
  start: () => Promise<void>
  /** Stops and removes the data directory. */
  dispose: () => Promise<void>
}

/** A real redis-server on a free loopback port, with its own temporary directory. */
export async function startRedis (opts: { persistent?: boolean } = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'datapulse-redis-'))
  const port = await freePort()
  let child: ChildProcess | undefined
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--protected-mode', 'yes',
    '--appendonly', opts.persistent ? 'yes' : 'no', '--appendfsync', 'always', '--loglevel', 'warning']

  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start () {
      child = spawn(BINARY!, args, { stdio: 'ignore' })
      const deadline = Date.now() + 10_000
      while (Date.now() < deadline) {
        const up = await new Promise<boolean>((resolve) => {
          const socket = net.connect(port, '127.0.0.1')
          socket.once('connect', () => { socket.write('PING\r\n') })
          socket.once('data', (d) => { socket.destroy(); resolve(d.toString().startsWith('+PONG')) })
          socket.once('error', () => resolve(false))
        })
        if (up) return
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error(`redis-server did not start on port ${port}`)
    },
    async stop () {
      if (!child || child.exitCode !== null) return
      const exited = new Promise((resolve) => child!.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
    async dispose () {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
  await server.start()
  return server
}
