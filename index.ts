// The package API: `import dataPulse, { defineTool } from 'datapulse-sse'`.
export { default, options, type DataPulseOptions } from './app.js'
export { defineTool, ToolError, type ToolDefinition, type ToolContext, type AnyTool } from './lib/tool.js'
export type { Principal } from './plugins/auth.js'
export type { SessionStore, StoredEvent } from './lib/session-store.js'
export { configFromEnv, resolveConfig, ConfigError } from './config.js'
export type { AppConfig } from './schemas/options.js'
