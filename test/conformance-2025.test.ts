import t from 'tap'
import { runSuite, scoredScenarios, startEverything } from './conformance.js'

// The official conformance suite is the referee: every scored scenario of the 2025-11-25
// requirement set passes against the everything fixture, with no expected-failures file.
t.test('conformance suite, --requirements 2025-11-25', { timeout: 240_000 }, async (t) => {
  const server = await startEverything()
  t.teardown(server.stop)
  const scored = await scoredScenarios('2025-11-25')
  t.equal(scored.length, 30, 'the 2025-11-25 set scores 30 server scenarios')
  const result = await runSuite(server.url, '2025-11-25')
  for (const name of scored) t.equal(result.scenarios.get(name), true, `${name} passes`)
  t.equal(result.code, 0, 'the suite exits 0')
  if (result.code !== 0) t.comment(result.output.slice(-4000))
})
