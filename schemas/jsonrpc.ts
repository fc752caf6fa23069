import { Type, type Static } from '@sinclair/typebox'

// JSON-RPC 2.0 as MCP uses it. Incoming messages are checked by hand (lib/mcp.ts) because a
// malformed message must become a JSON-RPC error with the right code, not an HTTP 400.

export const JsonRpcId = Type.Union([Type.String(), Type.Integer()])
export type JsonRpcId = Static<typeof JsonRpcId>

export const JsonRpcRequest = Type.Object({
  jsonrpc: Type.Literal('2.0'),
  id: Type.Optional(JsonRpcId),
  method: Type.String({ minLength: 1 }),
  params: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
})
export type JsonRpcRequest = Static<typeof JsonRpcRequest>

export const JsonRpcError = Type.Object({
  code: Type.Integer(),
  message: Type.String(),
  data: Type.Optional(Type.Unknown())
})

export const JsonRpcResponse = Type.Object({
  jsonrpc: Type.Literal('2.0'),
  id: Type.Union([JsonRpcId, Type.Null()]),
  result: Type.Optional(Type.Unknown()),
  error: Type.Optional(JsonRpcError)
})
export type JsonRpcResponse = Static<typeof JsonRpcResponse>

export const ErrorCodes = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** Server-defined: a limit (concurrent calls) refused the request. */
  overloaded: -32000,
  /** A 2025-era request naming a session that does not exist (or is another principal's). */
  sessionNotFound: -32001,
  /** 2025 era: resources/read of a URI no resource serves. */
  resourceNotFound: -32002,
  /** 2026-07-28: an HTTP header disagrees with the body (MCP-Protocol-Version, Mcp-Method…). */
  headerMismatch: -32020,
  /** 2026-07-28: the request needs a client capability the client did not declare. */
  missingCapability: -32021,
  /** 2026-07-28: the request's protocol version is not one this server speaks. */
  unsupportedVersion: -32022
} as const

/** The 2025 era, newest first; the first is what `initialize` answers to a version it does not know. */
export const PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const
/** What /mcp negotiates in `initialize`: 2024-11-05 belongs to the HTTP+SSE transport only. */
export const STREAMABLE_VERSIONS = PROTOCOL_VERSIONS.filter((v) => v !== '2024-11-05')
/** What Streamable HTTP assumes when a request has no MCP-Protocol-Version header. */
export const DEFAULT_HTTP_VERSION = '2025-03-26'

export const SseSessionQuery = Type.Object({
  sessionId: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._~-]+$' })
})
