// The package API: `import dataPulse, { defineTool } from 'datapulse-sse'`.
export { dataPulsePlugin as default, options, type DataPulseOptions } from './app.js'
export { defineTool, ToolError, type ToolDefinition, type ToolContext, type AnyTool, type AskOptions, type ToolAnnotations } from './lib/tool.js'
export { defineResource, defineResourceTemplate, type ResourceDefinition, type ResourceTemplateDefinition, type ResourceRead, type Completer } from './lib/resource.js'
export { definePrompt, type PromptDefinition, type AnyPrompt } from './lib/prompt.js'
export type * from './lib/mcp/types.js'
// A protocol error a handler may throw: the request (or its task) ends with this JSON-RPC error.
export { RpcError as McpError } from './lib/mcp/rpc.js'
export { UrlElicitationRequiredError } from './lib/mcp/url-elicitation.js'
export type { Principal, HostPrincipal, AuthenticateHook } from './plugins/auth.js'
export type { DataPulseHandle } from './plugins/handle.js'
export type { SessionStore, StoredEvent } from './lib/stores/session-store.js'
export { configFromEnv, resolveConfig, ConfigError } from './config.js'
export type { AppConfig } from './schemas/options.js'
// One piece without the whole app: our auth in front of a host's routes, the session store alone.
export { default as authPlugin } from './plugins/auth.js'
export { default as sessionsPlugin } from './plugins/sessions.js'
export { createMemoryStore } from './lib/stores/memory-store.js'
