// MCP wire shapes the server builds or reads, as plain TypeScript types. Client input is
// checked where it enters (lib/mcp/methods.ts); these describe what handlers exchange.

export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const
export type LogLevel = typeof LOG_LEVELS[number]

export interface Icon {
  src: string
  mimeType?: string
  sizes?: string[]
  theme?: 'light' | 'dark'
}

export interface Annotations {
  audience?: Array<'user' | 'assistant'>
  priority?: number
  lastModified?: string
}

export type ResourceContents =
  | { uri: string, mimeType?: string, text: string, _meta?: Record<string, unknown> }
  | { uri: string, mimeType?: string, blob: string, _meta?: Record<string, unknown> }

export type ContentBlock =
  | { type: 'text', text: string, annotations?: Annotations }
  | { type: 'image', data: string, mimeType: string, annotations?: Annotations }
  | { type: 'audio', data: string, mimeType: string, annotations?: Annotations }
  | { type: 'resource_link', uri: string, name: string, title?: string, description?: string, mimeType?: string, annotations?: Annotations }
  | { type: 'resource', resource: ResourceContents, annotations?: Annotations }

export interface CallToolResult {
  content: ContentBlock[]
  structuredContent?: Record<string, unknown>
  isError?: boolean
}

/** A form-mode elicitation: a message and a flat object schema of primitive fields. */
/** Form mode: the client shows a form for `requestedSchema` and returns what the user entered. */
export interface ElicitFormParams {
  mode?: 'form'
  message: string
  requestedSchema: { type: 'object', properties: Record<string, unknown>, required?: string[] }
}

/**
 * URL mode: the client asks the user to open `url` (https:, or http: on loopback for development)
 * where the server collects what must not pass through the client (keys, payments, third-party
 * OAuth). The answer says only whether the user agreed to go. Build the URL from the server's own
 * state, never from client input. `elicitationId` (2025 era) names the interaction for
 * `app.dataPulse.elicitations.complete(id)`; one is made up when absent.
 */
export interface ElicitUrlParams {
  mode: 'url'
  message: string
  url: string
  elicitationId?: string
}

export type ElicitParams = ElicitFormParams | ElicitUrlParams

export interface ElicitResult {
  action: 'accept' | 'decline' | 'cancel'
  content?: Record<string, unknown>
  /** URL mode: the id the interaction was sent with (2025 era). */
  elicitationId?: string
}

export interface SamplingMessage {
  role: 'user' | 'assistant'
  content: ContentBlock | ContentBlock[]
}

export interface SampleParams {
  messages: SamplingMessage[]
  maxTokens: number
  systemPrompt?: string
  temperature?: number
  stopSequences?: string[]
  modelPreferences?: Record<string, unknown>
  includeContext?: 'none' | 'thisServer' | 'allServers'
  metadata?: Record<string, unknown>
}

export interface SampleResult {
  role: 'assistant' | 'user'
  content: ContentBlock | ContentBlock[]
  model: string
  stopReason?: string
}

export interface RootsResult {
  roots: Array<{ uri: string, name?: string }>
}

export interface PromptMessage {
  role: 'user' | 'assistant'
  content: ContentBlock
}
