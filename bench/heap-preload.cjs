// Loaded into a server by bench/heap.mjs (node --require): each SIGWINCH writes a heap snapshot
// (v8.writeHeapSnapshot collects garbage first) to HEAP_OUT-<n>.heapsnapshot, then renames it
// into place, so the reader never sees a half-written file.
const { writeHeapSnapshot } = require('node:v8')
const { renameSync } = require('node:fs')
let n = 0
process.on('SIGWINCH', () => {
  const file = `${process.env.HEAP_OUT}-${n++}.heapsnapshot`
  renameSync(writeHeapSnapshot(`${file}.part`), file)
})
