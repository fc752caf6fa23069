// Where an idle stream's JavaScript heap goes, beside the floor's: two heap snapshots of each
// server (after a warm-up of envelope calls, then after N idle envelope streams), their objects
// grouped by constructor (or by kind: strings, arrays, closures, heap numbers …), in bytes per
// stream.   node bench/heap.mjs [N]      (2,000 streams by default; ROWS=25 rows printed)
// The server runs as `npm start` does, with bench/heap-preload.cjs loaded to take the snapshots.
import { fork } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLoadClient } from './load.mjs'
import { spawnShipped } from './shipped.mjs'

const N = Number(process.argv[2] ?? 2000)
const ROWS = Number(process.env.ROWS ?? 25)
const here = new URL('.', import.meta.url)
const preload = new URL('./heap-preload.cjs', here).pathname
const dir = mkdtempSync(join(tmpdir(), 'heap-'))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const { proc: client, ask } = await startLoadClient()

/** Self sizes summed by constructor name (objects) or by kind (everything else). */
function byGroup (file) {
  const { snapshot: { meta }, nodes, strings } = JSON.parse(readFileSync(file, 'utf8'))
  const width = meta.node_fields.length
  const [TYPE, NAME, SIZE] = ['type', 'name', 'self_size'].map((f) => meta.node_fields.indexOf(f))
  const types = meta.node_types[0]
  const groups = new Map()
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + TYPE]]
    const key = type === 'object' ? strings[nodes[i + NAME]] : `(${type})`
    groups.set(key, (groups.get(key) ?? 0) + nodes[i + SIZE])
  }
  return groups
}

/** The n-th snapshot the preload writes for `out` (it numbers them from 0). */
async function snapshot (proc, out, n) {
  const file = `${out}-${n}.heapsnapshot`
  proc.kill('SIGWINCH')
  while (!existsSync(file)) await sleep(50)
  const groups = byGroup(file)
  rmSync(file)
  return groups
}

/** Heap bytes per stream, by group: the second snapshot less the first, over N. */
async function measure (name, proc, base, out) {
  await ask('envelope', { base, S: 50, K: 100 })
  const before = await snapshot(proc, out, 0)
  const { opened } = await ask('idle', { base, N })
  await sleep(500)
  const after = await snapshot(proc, out, 1)
  await ask('closeIdle', {})
  if (opened !== N) throw new Error(`${name}: ${opened} of ${N} streams opened`)
  const perStream = new Map()
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    perStream.set(key, ((after.get(key) ?? 0) - (before.get(key) ?? 0)) / N)
  }
  return perStream
}

const floorOut = join(dir, 'floor')
const floor = fork(new URL('./server.mjs', here), [], { execArgv: ['--require', preload], env: { ...process.env, HEAP_OUT: floorOut }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
const floorBase = `http://127.0.0.1:${(await new Promise((resolve) => floor.once('message', resolve))).port}`
const floorBytes = await measure('floor', floor, floorBase, floorOut)
floor.kill()

const oursOut = join(dir, 'ours')
const { proc, base } = await spawnShipped({ nodeFlags: ['--require', preload], env: { HEAP_OUT: oursOut } })
const oursBytes = await measure('ours', proc, base, oursOut)
client.kill()
proc.kill('SIGKILL')
rmSync(dir, { recursive: true, force: true })

const total = (m) => [...m.values()].reduce((a, b) => a + b, 0)
console.log(`${N} idle envelope streams, JavaScript heap bytes per stream (after a full GC):`)
console.log(`floor ${Math.round(total(floorBytes))}, ours ${Math.round(total(oursBytes))}\n`)
console.log('   ours  floor  ours − floor  group')
const rows = [...new Set([...floorBytes.keys(), ...oursBytes.keys()])]
  .map((key) => [key, oursBytes.get(key) ?? 0, floorBytes.get(key) ?? 0])
  .sort((a, b) => Math.abs(b[1] - b[2]) - Math.abs(a[1] - a[2]) || b[1] - a[1])
  .slice(0, ROWS)
for (const [key, ours, fl] of rows) console.log(`${ours.toFixed(0).padStart(7)}${fl.toFixed(0).padStart(7)}${(ours - fl).toFixed(0).padStart(14)}  ${key}`)
