// Loaded into the server by bench/promoted.mjs (node --require): the first SIGWINCH (not
// SIGUSR2, which fastify start's close-with-grace takes as a shutdown) starts V8's
// sampling heap profiler keeping the samples of objects a major GC collected (objects that
// outlived young collections, then died: the old generation's garbage); the second writes the
// profile to PROMOTED_OUT.
const inspector = require('node:inspector')
const { writeFileSync } = require('node:fs')
const session = new inspector.Session()
session.connect()
let sampling = false
process.on('SIGWINCH', () => {
  if (!sampling) {
    sampling = true
    session.post('HeapProfiler.enable', () => {
      session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true })
    })
    return
  }
  session.post('HeapProfiler.collectGarbage', () => {
    session.post('HeapProfiler.stopSampling', (err, result) => {
      writeFileSync(process.env.PROMOTED_OUT, err ? JSON.stringify({ error: err.message }) : JSON.stringify(result.profile))
    })
  })
})
