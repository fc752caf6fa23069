import type { ToolContext } from './tool.js'
import type { Annotations, Icon, ResourceContents } from './mcp/types.js'

/** What a resource's read returns: text, bytes, one `{text}`/`{blob}` or whole contents. */
export type ResourceRead = string | Uint8Array | { text: string, mimeType?: string } | { blob: string, mimeType?: string } | ResourceContents[]

interface ResourceCommon {
  name: string
  title?: string
  description?: string
  mimeType?: string
  annotations?: Annotations
  icons?: Icon[]
  /** 2026-07-28 caching hint for reads and listings of this resource. */
  ttlMs?: number
  /** OAuth scopes a reader needs; without them the read is refused with 403 insufficient_scope. */
  scopes?: string[]
}

export interface ResourceDefinition extends ResourceCommon {
  uri: string
  size?: number
  read (ctx: ToolContext): ResourceRead | Promise<ResourceRead>
}

/** A completer offers values for one argument or template variable, given what was typed. */
export type Completer = (value: string, context: Record<string, string>) => string[] | Promise<string[]>

export interface ResourceTemplateDefinition extends ResourceCommon {
  /** An RFC 6570 template of simple `{var}` (and `{+var}`) expressions. */
  uriTemplate: string
  complete?: Record<string, Completer>
  read (uri: string, variables: Record<string, string>, ctx: ToolContext): ResourceRead | Promise<ResourceRead>
}

export function defineResource (definition: ResourceDefinition): ResourceDefinition {
  return definition
}

export function defineResourceTemplate (definition: ResourceTemplateDefinition): ResourceTemplateDefinition {
  return definition
}

const EXPRESSION = /\{([+]?)([A-Za-z0-9_]+)\}/g

/**
 * Compiles a URI template to a matcher. Only simple (`{var}`: no `/`, `?`, `#`, `,`) and reserved
 * (`{+var}`: anything) expressions are supported; other operators fail at registration.
 */
export function compileTemplate (template: string): { variables: string[], match: (uri: string) => Record<string, string> | null } {
  const leftover = template.replace(EXPRESSION, '')
  if (/[{}]/.test(leftover)) throw new Error(`uriTemplate "${template}": only {var} and {+var} expressions are supported`)
  const variables: string[] = []
  let pattern = '^'
  let last = 0
  for (const m of template.matchAll(EXPRESSION)) {
    pattern += escape(template.slice(last, m.index)) + (m[1] === '+' ? '(.+?)' : '([^/?#,]+?)')
    variables.push(m[2])
    last = m.index! + m[0].length
  }
  const regex = new RegExp(pattern + escape(template.slice(last)) + '$')
  return {
    variables,
    match (uri) {
      const m = regex.exec(uri)
      if (!m) return null
      const out: Record<string, string> = {}
      variables.forEach((name, i) => {
        try { out[name] = decodeURIComponent(m[i + 1]) } catch { out[name] = m[i + 1] }
      })
      return out
    }
  }
}

function escape (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Turns what a read returned into the contents list of `resources/read`. */
export function toContents (uri: string, mimeType: string | undefined, value: ResourceRead): ResourceContents[] {
  const base = mimeType ? { uri, mimeType } : { uri }
  if (typeof value === 'string') return [{ ...base, text: value }]
  if (value instanceof Uint8Array) return [{ ...base, blob: Buffer.from(value).toString('base64') }]
  if (Array.isArray(value)) return value
  return [{ ...base, ...value }]
}

/** Thrown for a URI no resource or template serves; each era maps it to its own error. */
export class ResourceNotFound extends Error {
  override name = 'ResourceNotFound'
  constructor (readonly uri: string) { super(`resource not found: ${uri.length > 200 ? `${uri.slice(0, 200)}…` : uri}`) }
}
