import type { ElicitFormParams } from './types.js'

/**
 * Checks an accepted elicitation's content against its requestedSchema. The spec restricts that
 * schema to a flat object of primitives (string, number, integer, boolean, enums and arrays of
 * enum values), so this small check covers it. Returns the first problem, or null.
 */
export function elicitationProblem (schema: ElicitFormParams['requestedSchema'], content: unknown): string | null {
  if (typeof content !== 'object' || content === null || Array.isArray(content)) return 'content must be an object'
  const values = content as Record<string, unknown>
  for (const name of schema.required ?? []) {
    if (values[name] === undefined) return `content.${name} is required`
  }
  for (const [name, value] of Object.entries(values)) {
    const prop = schema.properties[name] as Record<string, unknown> | undefined
    if (!prop) continue
    const problem = valueProblem(prop, value)
    if (problem) return `content.${name} ${problem}`
  }
  return null
}

function allowed (prop: Record<string, unknown>): unknown[] | null {
  if (Array.isArray(prop.enum)) return prop.enum
  const options = (prop.oneOf ?? prop.anyOf) as Array<{ const?: unknown }> | undefined
  return Array.isArray(options) ? options.map((o) => o.const) : null
}

function valueProblem (prop: Record<string, unknown>, value: unknown): string | null {
  switch (prop.type) {
    case 'string': {
      if (typeof value !== 'string') return 'must be a string'
      const choices = allowed(prop)
      if (choices && !choices.includes(value)) return `must be one of ${choices.join(', ')}`
      if (typeof prop.minLength === 'number' && value.length < prop.minLength) return `must have at least ${prop.minLength} characters`
      if (typeof prop.maxLength === 'number' && value.length > prop.maxLength) return `must have at most ${prop.maxLength} characters`
      return null
    }
    case 'integer':
    case 'number':
      if (typeof value !== 'number' || (prop.type === 'integer' && !Number.isInteger(value))) return `must be ${prop.type === 'integer' ? 'an integer' : 'a number'}`
      if (typeof prop.minimum === 'number' && value < prop.minimum) return `must be at least ${prop.minimum}`
      if (typeof prop.maximum === 'number' && value > prop.maximum) return `must be at most ${prop.maximum}`
      return null
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be a boolean'
    case 'array': {
      if (!Array.isArray(value)) return 'must be an array'
      const choices = allowed((prop.items ?? {}) as Record<string, unknown>)
      if (choices && value.some((v) => !choices.includes(v))) return `items must be among ${choices.join(', ')}`
      if (typeof prop.minItems === 'number' && value.length < prop.minItems) return `must have at least ${prop.minItems} items`
      if (typeof prop.maxItems === 'number' && value.length > prop.maxItems) return `must have at most ${prop.maxItems} items`
      return null
    }
    default:
      return null
  }
}
