import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { compileTemplate, ResourceNotFound, toContents, type ResourceDefinition, type ResourceTemplateDefinition } from '../lib/resource.js'

export { ResourceNotFound } from '../lib/resource.js'
import type { ToolContext } from '../lib/tool.js'
import type { ResourceContents } from '../lib/mcp/types.js'
import { checkScopes } from '../lib/security/scopes.js'

export interface ResourcesPluginOptions {
  resources: ResourceDefinition[]
  resourceTemplates: ResourceTemplateDefinition[]
}

type Listed = Record<string, unknown>

function described (def: ResourceDefinition | ResourceTemplateDefinition): Listed {
  const out: Listed = { name: def.name }
  for (const key of ['title', 'description', 'mimeType', 'annotations', 'icons'] as const) {
    if (def[key] !== undefined) out[key] = def[key]
  }
  return out
}

function checkCommon (kind: string, id: string, def: { name?: unknown, read?: unknown, scopes?: unknown }): void {
  if (typeof def.name !== 'string' || def.name === '') throw new Error(`${kind} "${id}" needs a name`)
  if (typeof def.read !== 'function') throw new Error(`${kind} "${id}" needs a read function`)
  checkScopes(kind, id, def.scopes)
}



/** Static resources and URI templates: what `resources/*` lists and reads. */
export function createResourceRegistry () {
  const byUri = new Map<string, ResourceDefinition>()
  const templates: Array<{ def: ResourceTemplateDefinition, matcher: ReturnType<typeof compileTemplate> }> = []
  let listing: Listed[] = []
  let templateListing: Listed[] = []

  /** What resources/list and resources/templates/list publish, rebuilt when the registry changes. */
  function relist (): void {
    listing = [...byUri.values()].map((d) => ({ uri: d.uri, ...described(d), ...(d.size !== undefined ? { size: d.size } : {}) }))
    templateListing = templates.map((t) => ({ uriTemplate: t.def.uriTemplate, ...described(t.def) }))
  }

  function add (def: ResourceDefinition): void {
    if (typeof def?.uri !== 'string' || !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(def.uri)) {
      throw new Error(`resource uri ${JSON.stringify(def?.uri)} must be an absolute URI`)
    }
    checkCommon('resource', def.uri, def)
    if (byUri.has(def.uri)) throw new Error(`resource "${def.uri}" is registered twice`)
    byUri.set(def.uri, def)
    relist()
  }

  function addTemplate (def: ResourceTemplateDefinition): void {
    if (typeof def?.uriTemplate !== 'string') throw new Error('a resource template needs a uriTemplate')
    checkCommon('resource template', def.uriTemplate, def)
    const matcher = compileTemplate(def.uriTemplate)
    for (const name of Object.keys(def.complete ?? {})) {
      if (!matcher.variables.includes(name)) throw new Error(`resource template "${def.uriTemplate}" completes unknown variable "${name}"`)
    }
    templates.push({ def, matcher })
    relist()
  }

  /** Removes the resource with this URI, or the template with this uriTemplate. */
  function remove (uriOrTemplate: string): boolean {
    if (byUri.delete(uriOrTemplate)) {
      relist()
      return true
    }
    const at = templates.findIndex((t) => t.def.uriTemplate === uriOrTemplate)
    if (at < 0) return false
    templates.splice(at, 1)
    relist()
    return true
  }

  /** The definition serving `uri`, its ttl and the scopes it needs, or null. */
  function find (uri: string): { ttlMs?: number, scopes?: string[], read: (ctx: ToolContext) => Promise<ResourceContents[]> } | null {
    const def = byUri.get(uri)
    if (def) return { ttlMs: def.ttlMs, scopes: def.scopes, read: async (ctx) => toContents(uri, def.mimeType, await def.read(ctx)) }
    for (const { def: t, matcher } of templates) {
      const variables = matcher.match(uri)
      if (variables) return { ttlMs: t.ttlMs, scopes: t.scopes, read: async (ctx) => toContents(uri, t.mimeType, await t.read(uri, variables, ctx)) }
    }
    return null
  }

  return {
    add,
    addTemplate,
    remove,
    list: (): Listed[] => listing,
    listTemplates: (): Listed[] => templateListing,
    count: (): number => byUri.size + templates.length,
    /** Every scope a resource or template asks for (the resource metadata's scopes_supported). */
    scopes: (): string[] => [...byUri.values(), ...templates.map((t) => t.def)].flatMap((d) => d.scopes ?? []),
    ttlMs: (): number | undefined => minTtl([...byUri.values(), ...templates.map((t) => t.def)]),
    find,
    /** The completer of a template variable, or undefined when there is none. */
    completer (uriTemplate: string, variable: string) {
      const t = templates.find((x) => x.def.uriTemplate === uriTemplate)
      if (!t) return null
      return t.def.complete?.[variable] ?? (t.matcher.variables.includes(variable) ? undefined : null)
    },
    async read (uri: string, ctx: ToolContext): Promise<ResourceContents[]> {
      const found = find(uri)
      if (!found) throw new ResourceNotFound(uri)
      return found.read(ctx)
    }
  }
}

/** The smallest caching hint among definitions that set one. */
export function minTtl (defs: Array<{ ttlMs?: number }>): number | undefined {
  let min: number | undefined
  for (const d of defs) if (d.ttlMs !== undefined && (min === undefined || d.ttlMs < min)) min = d.ttlMs
  return min
}

export type ResourceRegistry = ReturnType<typeof createResourceRegistry>

declare module 'fastify' {
  interface FastifyInstance {
    resources: ResourceRegistry
  }
}

export default fp(async function resourcesPlugin (fastify: FastifyInstance, opts: ResourcesPluginOptions) {
  const registry = createResourceRegistry()
  for (const def of opts.resources) registry.add(def)
  for (const def of opts.resourceTemplates) registry.addTemplate(def)
  fastify.decorate('resources', registry)
}, { name: 'datapulse-resources', fastify: '5.x' })
