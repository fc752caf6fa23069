import { Type } from '@sinclair/typebox'
import { defineTool } from '../lib/tool.js'

export const getTime = defineTool({
  name: 'get_time',
  description: 'Returns the current server time in ISO 8601 (UTC).',
  input: Type.Object({}),
  handler: () => ({ time: new Date().toISOString() })
})
