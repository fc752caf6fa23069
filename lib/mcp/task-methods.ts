import type { MethodContext, MethodHandler } from './methods.js'
import { isObject, RpcError } from './rpc.js'
import { detailed, TASKS_EXTENSION } from './tasks.js'
import { ErrorCodes } from '../../schemas/jsonrpc.js'

export { TASKS_EXTENSION }

/** Whether this request's client declared the tasks extension (2026-07-28: per request, in `_meta`). */
export async function declaresTasks (mc: MethodContext): Promise<boolean> {
  const extensions = (await mc.clientCapabilities()).extensions
  return isObject(extensions) && isObject(extensions[TASKS_EXTENSION])
}

/** -32021 naming an extension the request needs, shaped like the client's capabilities. */
export function missingExtension (name: string): RpcError {
  return new RpcError(ErrorCodes.missingCapability, `Missing required client capability: the ${name} extension`,
    { requiredCapabilities: { extensions: { [name]: {} } } }, 400)
}

async function gate (mc: MethodContext): Promise<void> {
  if (mc.era !== '2026') throw new RpcError(ErrorCodes.methodNotFound, 'tasks are offered to 2026-07-28 clients', undefined, 404)
  if (!await declaresTasks(mc)) throw missingExtension(TASKS_EXTENSION)
}

/**
 * tasks/get, tasks/update and tasks/cancel of the tasks extension: answered from the store on any
 * instance, for the task's owner only. There is no tasks/list (nobody learns of others' tasks) and
 * no tasks/result (a finished task carries its result).
 */
export const taskMethods: Record<string, MethodHandler> = {
  'tasks/get': async (mc, params) => {
    await gate(mc)
    return detailed(await mc.app.mcp.tasks.get(params.taskId, mc.principal.id))
  },
  'tasks/update': async (mc, params) => {
    await gate(mc)
    await mc.app.mcp.tasks.respond(params.taskId, mc.principal.id, params.inputResponses)
    return {}
  },
  'tasks/cancel': async (mc, params) => {
    await gate(mc)
    await mc.app.mcp.tasks.cancel(params.taskId, mc.principal.id)
    return {}
  }
}
