import type { FastifyInstance } from 'fastify'
import type { AnyPrompt } from '../lib/prompt.js'
import type { ResourceDefinition, ResourceTemplateDefinition } from '../lib/resource.js'
import type { AnyTool } from '../lib/tool.js'

/**
 * What host code can do with a registered DataPulseSSE at run time: `app.dataPulse` (or the name
 * given as `handle`). Changes reach every connected client of either era as list_changed or
 * resources/updated. Registries belong to this process (each instance runs the host's code);
 * `notifyUpdated` reaches subscribers on every instance when Redis is configured.
 */
export interface DataPulseHandle {
  tools: {
    /** Adds a tool (checked as at start); connected clients get `notifications/tools/list_changed`. */
    add (tool: AnyTool): void
    /** Removes a tool (calls already running finish); false when there was none by that name. */
    remove (name: string): boolean
    names (): string[]
  }
  resources: {
    add (resource: ResourceDefinition): void
    addTemplate (template: ResourceTemplateDefinition): void
    /** Removes the resource with this URI or the template with this uriTemplate. */
    remove (uriOrTemplate: string): boolean
    /** Tells the clients subscribed to `uri` (on every instance) that it changed. */
    notifyUpdated (uri: string): Promise<void>
  }
  prompts: {
    add (prompt: AnyPrompt): void
    remove (name: string): boolean
  }
  elicitations: {
    /**
     * The out-of-band interaction of a URL-mode elicitation is done (the user came back from the
     * URL): its session gets `notifications/elicitation/complete`, from any instance. False when
     * the id is unknown, already completed, or its session is gone.
     */
    complete (elicitationId: string): Promise<boolean>
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The registered DataPulseSSE's run-time handle (see DataPulseOptions.handle for another name). */
    dataPulse: DataPulseHandle
  }
}

/**
 * A handle whose methods act on the app once `bind` has given it the app's instance (at the end
 * of its registration, so after `await app.register(dataPulse)` it is ready).
 */
export function createHandle (): { handle: DataPulseHandle, bind: (app: FastifyInstance) => void } {
  let app: FastifyInstance | undefined
  const ready = (): FastifyInstance => {
    if (!app) throw new Error('DataPulseSSE is not registered yet: await app.register(dataPulse, …) first')
    return app
  }
  // The registries changed: capabilities are derived anew and clients are told, without making
  // the caller wait for (or handle) the notifications, which are logged if they fail.
  const changed = (kind: 'tools' | 'resources' | 'prompts') => {
    const a = ready()
    a.mcp.refreshCapabilities()
    a.mcp.changes.listChanged(kind).catch((err: unknown) => a.log.warn({ err, kind }, 'could not announce a list change'))
  }
  // Removing tells clients only when there was something to remove.
  const removing = (kind: 'tools' | 'resources' | 'prompts', remove: (key: string) => boolean) => (key: string) => {
    const removed = remove(key)
    if (removed) changed(kind)
    return removed
  }
  const handle: DataPulseHandle = {
    tools: {
      add (tool) { ready().tools.register(tool); changed('tools') },
      remove: removing('tools', (name) => ready().tools.remove(name)),
      names: () => ready().tools.list().map((t) => t.name)
    },
    resources: {
      add (resource) { ready().resources.add(resource); changed('resources') },
      addTemplate (template) { ready().resources.addTemplate(template); changed('resources') },
      remove: removing('resources', (uriOrTemplate) => ready().resources.remove(uriOrTemplate)),
      notifyUpdated: (uri) => ready().mcp.changes.resourceUpdated(uri)
    },
    prompts: {
      add (prompt) { ready().prompts.add(prompt); changed('prompts') },
      remove: removing('prompts', (name) => ready().prompts.remove(name))
    },
    elicitations: {
      complete: (elicitationId) => ready().mcp.elicitations.complete(elicitationId)
    }
  }
  return { handle, bind: (instance) => { app = instance } }
}
