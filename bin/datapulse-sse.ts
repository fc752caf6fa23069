#!/usr/bin/env node
// `datapulse-sse [--env-file FILE]… [--help]`: the server as `npm start` runs it (the same
// options, defaults and settings), without a clone or fastify-cli.
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import Fastify from 'fastify'
import dataPulse, { options } from '../app.js'
import { ConfigError, settingsList } from '../config.js'
import { loggerOptions } from '../lib/logging/log.js'
import { packageInfo } from '../lib/package-info.js'
import { checkStart } from './start-check.js'

// As `npm start` runs Node (docs/performance.md says why); set before anything is allocated.
setFlagsFromString('--no-allocation-site-pretenuring')

const START = [
  { name: 'PORT', option: '', default: '8000' },
  { name: 'HOST', option: '', default: '127.0.0.1' },
  { name: 'LOG_LEVEL', option: '', default: 'info' }
]

function help (): string {
  const rows = [...START, ...settingsList()]
  const width = Math.max(...rows.map((r) => r.name.length))
  return [
    `datapulse-sse ${packageInfo.version}: an MCP server over Server-Sent Events`,
    '',
    'Usage: datapulse-sse [--env-file FILE]... [--help] [--version]',
    '',
    '  --env-file FILE  read settings from FILE (Node\'s .env format); variables already set win',
    '  --help           this text',
    '  --version        the version',
    '',
    'Settings (environment variables; option names as for embedding, default after =):',
    ...rows.map((r) => `  ${r.name.padEnd(width)}  ${r.default === '' ? '' : `= ${r.default}`}${r.option ? `  (${r.option})` : ''}`),
    '',
    'More: docs/configuration.md in the package (node_modules/datapulse-sse/docs/ once installed)'
  ].join('\n')
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: { 'env-file': { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } },
    strict: true
  })
  if (values.help) return void console.log(help())
  if (values.version) return void console.log(packageInfo.version)
  for (const file of values['env-file'] ?? []) process.loadEnvFile(file)
  process.env.DEMO_PAGE ??= 'true'
  checkStart()
  const port = Number(process.env.PORT || 8000)
  const host = process.env.HOST || '127.0.0.1'
  const app = Fastify({ ...options, logger: { ...loggerOptions, level: process.env.LOG_LEVEL || 'info' } })
  await app.register(dataPulse, { accessLog: true })
  await app.listen({ port, host })
  // As fastify-cli's -g 15000: in-flight calls get that long, then the process ends anyway.
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    app.log.info({ signal }, 'shutting down')
    setTimeout(() => process.exit(1), 15_000).unref()
    app.close().then(() => process.exit(0), (err: unknown) => { app.log.error({ err }, 'shutdown failed'); process.exit(1) })
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
}

main().catch((err: unknown) => {
  // A bad setting or argument is one line, never a stack.
  const known = err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') || (err as { code?: string }).code === 'ENOENT'
  console.error(known ? `${(err as Error).name === 'ConfigError' ? 'ConfigError: ' : 'datapulse-sse: '}${(err as Error).message}` : err)
  process.exit(1)
})
