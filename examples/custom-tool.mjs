// A host Fastify app that embeds DataPulseSSE under /datapulse and adds its own tool.
// Run after `npm run build`:  node examples/custom-tool.mjs   (PORT=3000 by default)
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
    auth: { bearerToken: options.token ?? 'example_token' },
    env: false
  })
  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await build({ logger: true })
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
}
