import t from 'tap'
import { runSuite, scoredScenarios, startEverything } from './conformance.js'

// The stateless revision on the same endpoint, refereed by the official suite: every scored
// scenario of the 2026-07-28 requirement set passes against the everything fixture.
t.test('conformance suite, --requirements 2026-07-28', { timeout: 240_000 }, async (t) => {
  const server = await startEverything()
  t.teardown(server.stop)
  const scored = await scoredScenarios('2026-07-28')
  t.equal(scored.length, 37, 'the 2026-07-28 set scores 37 server scenarios')
  const result = await runSuite(server.url, '2026-07-28')
  for (const name of scored) t.equal(result.scenarios.get(name), true, `${name} passes`)
  t.equal(result.code, 0, 'the suite exits 0')
  if (result.code !== 0) t.comment(result.output.slice(-4000))
})
