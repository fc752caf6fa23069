// Loaded into the server by bench/tail.mjs (node --require): records every GC's start (on the
// wall clock shared with the load client) and pause; each SIGWINCH (SIGUSR2 is close-with-grace's
// shutdown) writes what was recorded since the last one to TAIL_GC_OUT.
const { PerformanceObserver, performance, constants } = require('node:perf_hooks')
const { writeFileSync } = require('node:fs')
const kinds = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak' }
let gcs = []
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push([performance.timeOrigin + e.startTime, e.duration, kinds[e.detail?.kind] ?? 'other'])
}).observe({ entryTypes: ['gc'] })
process.on('SIGWINCH', () => {
  writeFileSync(process.env.TAIL_GC_OUT, JSON.stringify(gcs))
  gcs = []
})
