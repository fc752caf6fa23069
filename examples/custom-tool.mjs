// A host Fastify app that embeds DataPulseSSE under /datapulse and adds its own tool.
// Run after `npm run build`:  LOCAL_BEARER_TOKEN=change-me node examples/custom-tool.mjs   (PORT=3000 by default)
// then: curl -X POST -H "Authorization: Bearer change-me" -H "Content-Type: application/json" "http://127.0.0.1:3000/datapulse/message?session_id=s1" -d '{"type":"call_tool","request_id":"r1","data":{"name":"roll_dice","sides":20}}'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import dataPulse, { defineTool } from 'datapulse-sse'

export const rollDice = defineTool({
  name: 'roll_dice',
  description: 'Rolls a die with the given number of sides.',
  input: Type.Object({ sides: Type.Integer({ minimum: 2, maximum: 100, default: 6 }) }),
  handler: ({ sides }) => ({ sides, roll: 1 + Math.floor(Math.random() * sides) })
})

export async function build (options = {}) {
  const app = Fastify({ logger: options.logger ?? false })
  app.get('/', async () => ({ app: 'my host app' }))
  await app.register(dataPulse, {
    prefix: '/datapulse',
    tools: [rollDice],
    auth: { bearerToken: options.token ?? process.env.LOCAL_BEARER_TOKEN ?? 'change-me' },
    env: false
  })
  return app
}

// Started directly (not imported by a test): listen. realpath, so a linked checkout works too.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const app = await build({ logger: true })
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
}
