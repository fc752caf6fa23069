// What the bench's measuring tools (tail, ab, heap, promoted) share: the load client in its own process,
// and the figures they read.
import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** Forks bench/client.mjs; `ask` runs one scenario there and resolves with its result. */
export async function startLoadClient () {
  const proc = fork(new URL('./client.mjs', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  await new Promise((resolve) => proc.once('message', resolve))
  const ask = (scenario, params) => new Promise((resolve, reject) => {
    proc.once('message', (m) => m.ok ? resolve(m.result) : reject(new Error(`${scenario}: ${m.error}`)))
    proc.send({ scenario, params })
  })
  return { proc, ask }
}

/** CPU ms a process has used (utime + stime, in clock ticks of 10 ms). */
export function cpuMs (pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

export function percentile (xs, p) {
  const sorted = Float64Array.from(xs).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}
