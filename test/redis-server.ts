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
export async function startRedis (opts: { persistent?: boolean, cluster?: boolean } = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'datapulse-redis-'))
  const port = await freePort()
  let child: ChildProcess | undefined
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--protected-mode', 'yes',
    '--appendonly', opts.persistent ? 'yes' : 'no', '--appendfsync', 'always', '--loglevel', 'warning',
    ...(opts.cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000'] : [])]

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

export interface RedisCluster {
  nodes: RedisServer[]
  /** host:port of every node, as REDIS_CLUSTER_NODES takes them. */
  addresses: string[]
  dispose: () => Promise<void>
}

/**
 * A real three-master Redis Cluster of redis-server processes on loopback, created with
 * `redis-cli --cluster create`; the nodes keep an append-only file so one can restart.
 */
export async function startRedisCluster (): Promise<RedisCluster> {
  const nodes = await Promise.all([0, 1, 2].map(() => startRedis({ cluster: true, persistent: true })))
  const addresses = nodes.map((n) => `127.0.0.1:${n.port}`)
  const cli = spawn('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' })
  const code = await new Promise<number | null>((resolve) => cli.on('exit', resolve))
  if (code !== 0) throw new Error('redis-cli --cluster create failed')
  // The cluster is usable once every node reports cluster_state:ok.
  const deadline = Date.now() + 15_000
  for (const node of nodes) {
    while (true) {
      const info = await new Promise<string>((resolve) => {
        const socket = net.connect(node.port, '127.0.0.1')
        let out = ''
        socket.once('connect', () => { socket.write('CLUSTER INFO\r\n') })
        socket.on('data', (d) => { out += d.toString(); if (out.includes('cluster_state')) { socket.destroy(); resolve(out) } })
        socket.once('error', () => resolve(''))
      })
      if (info.includes('cluster_state:ok')) break
      if (Date.now() > deadline) throw new Error('the Redis Cluster did not become ready')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return { nodes, addresses, dispose: async () => { await Promise.all(nodes.map((n) => n.dispose())) } }
}
