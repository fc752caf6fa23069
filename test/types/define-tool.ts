// Compiled by test/embed.test.ts with `tsc --noEmit`: each @ts-expect-error must be an error,
// so defineTool really infers the handler's argument types from the TypeBox schema.
import { Type } from '@sinclair/typebox'
import dataPulse, { defineTool, type DataPulseOptions } from '../../index.js'

export const ok = defineTool({
  name: 'greet',
  description: 'greets',
  input: Type.Object({ name: Type.String(), times: Type.Optional(Type.Integer()) }),
  handler: ({ name, times }) => {
    const upper: string = name.toUpperCase()
    const count: number | undefined = times
    return { text: upper.repeat(count ?? 1) }
  }
})

defineTool({
  name: 'bad',
  description: 'wrong types',
  input: Type.Object({ name: Type.String() }),
  handler: ({ name }) => {
    // @ts-expect-error name is a string, not a number
    const n: number = name
    return n
  }
})

defineTool({
  name: 'missing',
  description: 'unknown property',
  input: Type.Object({ name: Type.String() }),
  // @ts-expect-error `nope` is not in the schema
  handler: ({ nope }) => nope
})

const options: DataPulseOptions = { tools: [ok], sessions: { ttlSeconds: 60 } }
// @ts-expect-error ttlSeconds must be a number
const bad: DataPulseOptions = { sessions: { ttlSeconds: 'soon' } }
export { dataPulse, options, bad }
