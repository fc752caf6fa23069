import { Type, type Static } from '@sinclair/typebox'

// One definition of every setting: env variables are parsed into this shape (config.ts) and an
// embedding app passes the same shape to `register`. Defaults live here, nowhere else.

const Ms = (def: number, min = 1) => Type.Integer({ minimum: min, default: def })

export const AuthOptionsSchema = Type.Object({
  bearerToken: Type.String({ minLength: 1, default: 'secret_token' }),
  // Accept the local Bearer token beside JWT. Defaults to true outside production.
  allowLocalBearer: Type.Optional(Type.Boolean()),
  // Serve clients connected over loopback without a token (test fixtures such as the conformance
  // suite's, which cannot send one). Connections from any other address still need a token.
  anonymous: Type.Boolean({ default: false }),
  jwtKey: Type.Optional(Type.String({ minLength: 1 })),
  jwtIssuer: Type.Optional(Type.String({ minLength: 1 })),
  jwtAudience: Type.Optional(Type.String({ minLength: 1 })),
  // Opaque access tokens (RFC 7662): checked at the issuer's introspection endpoint (from its
  // metadata, or this URL) with the server's own client credentials; answers trusted this long.
  introspectionUrl: Type.Optional(Type.String({ minLength: 1 })),
  introspectionClientId: Type.Optional(Type.String({ minLength: 1 })),
  introspectionClientSecret: Type.Optional(Type.String({ minLength: 1 })),
  introspectionCacheMs: Ms(60_000, 0),
  clockToleranceSeconds: Type.Integer({ minimum: 0, maximum: 300, default: 5 }),
  // DPoP (RFC 9449): how old a proof may be; a proof is accepted once (its jti is remembered that long).
  dpopMaxAgeSeconds: Type.Integer({ minimum: 1, maximum: 600, default: 60 }),
  jwksCooldownMs: Ms(30_000, 0),
  jwksMaxAgeMs: Ms(600_000),
  jwksTimeoutMs: Ms(5_000),
  maxHeaderBytes: Ms(8192),
  ticketTtlSeconds: Type.Integer({ minimum: 1, maximum: 60, default: 60 }),
  // Unused tickets of one session; issuing one more retires its oldest (nothing is refused).
  maxTicketsPerSession: Type.Integer({ minimum: 1, default: 8 })
}, { additionalProperties: false })

export const SessionOptionsSchema = Type.Object({
  ttlSeconds: Type.Integer({ minimum: 1, default: 3600 }),
  maxEvents: Type.Integer({ minimum: 1, default: 1000 }),
  maxBytes: Type.Integer({ minimum: 1024, default: 4 * 1024 * 1024 }),
  // 0: sized to the heap, at least 10,000 (plugins/sessions.ts autoMaxSessions).
  maxSessions: Type.Integer({ minimum: 0, default: 0 }),
  // Session counts bound memory, not clients: at a cap the least recently used idle session
  // makes room (lib/stores/memory-store.ts evictOne). A principal's own cap (0: none beyond maxSessions)
  // keeps one tenant from evicting the others' sessions; with one shared token it would be the
  // whole server's. When a principal's retained frames pass its byte budget, or all sessions pass
  // the server's, the oldest frames of the session being written are dropped (frames_dropped).
  maxSessionsPerPrincipal: Type.Integer({ minimum: 0, default: 0 }),
  maxBytesPerPrincipal: Type.Integer({ minimum: 1024, default: 64 * 1024 * 1024 }),
  // 0: a quarter of the V8 heap limit.
  maxTotalBytes: Type.Integer({ minimum: 0, default: 0 }),
  redisUrl: Type.Optional(Type.String({ minLength: 1 })),
  // host:port of some Redis Cluster nodes; selects cluster mode instead of redisUrl.
  redisClusterNodes: Type.Array(Type.String({ minLength: 3 }), { default: [] }),
  // Namespace for every key, so several deployments (or tests) can share one Redis.
  redisKeyPrefix: Type.String({ minLength: 1, maxLength: 64, default: 'datapulse:' }),
  sweepIntervalMs: Ms(30_000)
}, { additionalProperties: false })

export const SseOptionsSchema = Type.Object({
  pingIntervalMs: Ms(15_000),
  writeTimeoutMs: Ms(5_000),
  // A session whose stream dropped and did not come back within this time has its calls aborted.
  reconnectGraceMs: Ms(10_000),
  // Streams are sockets, bounded by MAX_CONNECTIONS and per address; a principal's own cap (0:
  // none) is for many-principal deployments, since with one shared token it caps everyone.
  maxStreamsPerPrincipal: Type.Integer({ minimum: 0, default: 0 }),
  // A response the store cannot take (Redis restarting) is retried this long before the session's
  // streams are ended, so the client reconnects and knows its request failed instead of waiting.
  resultRetryMs: Ms(30_000)
}, { additionalProperties: false })

export const LimitOptionsSchema = Type.Object({
  bodyLimitBytes: Type.Integer({ minimum: 1024, default: 64 * 1024 }),
  maxConcurrentCallsPerSession: Type.Integer({ minimum: 1, default: 16 }),
  toolTimeoutMs: Ms(30_000),
  // 0 turns rate limiting off.
  rateLimitMax: Type.Integer({ minimum: 0, default: 0 }),
  rateLimitWindowMs: Ms(60_000),
  shutdownGraceMs: Ms(10_000)
}, { additionalProperties: false })

export const FetchUrlOptionsSchema = Type.Object({
  timeoutMs: Ms(5_000),
  maxBytes: Type.Integer({ minimum: 1, default: 1024 * 1024 }),
  snippetChars: Type.Integer({ minimum: 1, default: 2000 }),
  maxRedirects: Type.Integer({ minimum: 0, maximum: 20, default: 3 }),
  // Fetches in flight server-wide; more wait for a turn within their own deadline.
  maxConcurrent: Type.Integer({ minimum: 1, default: 64 }),
  allowedHosts: Type.Array(Type.String({ minLength: 1 }), { default: [] })
}, { additionalProperties: false })

export const HttpOptionsSchema = Type.Object({
  // The URL clients reach this server at (behind a proxy, a public name); its host is accepted
  // as Host, its origin as Origin, and it is the OAuth resource identifier.
  publicUrl: Type.Optional(Type.String({ minLength: 1 })),
  // More Host values to accept besides loopback names and PUBLIC_URL's host ("*": any).
  allowedHosts: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  // Open sockets the server accepts (file descriptors are finite), and per client address (0:
  // none), so one address cannot hold them all. Addresses in connectionLimitExempt are not
  // counted: a proxy on the same host carries everyone's connections (add a remote proxy's).
  maxConnections: Type.Integer({ minimum: 1, default: 16_384 }),
  maxConnectionsPerIp: Type.Integer({ minimum: 0, default: 512 }),
  connectionLimitExempt: Type.Array(Type.String({ minLength: 1 }), { default: ['127.0.0.0/8', '::1/128'] }),
  // Whole-request deadline (headers and body); streams are unaffected once their request is in.
  requestTimeoutMs: Type.Integer({ minimum: 1000, default: 15_000 }),
  // Origins allowed on MCP endpoints besides localhost (DNS-rebinding protection).
  allowedOrigins: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  // CORS is off unless origins are listed.
  corsOrigins: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  demoPage: Type.Boolean({ default: false }),
  metrics: Type.Boolean({ default: true })
}, { additionalProperties: false })

export const McpOptionsSchema = Type.Object({
  // A Streamable HTTP answer ready within this time (and that sent nothing first) is plain JSON;
  // a slower one becomes a resumable SSE stream.
  jsonWindowMs: Ms(500, 0),
  // How long a request to the client (elicitation, sampling, roots) waits for its answer.
  clientRequestTimeoutMs: Ms(120_000),
  maxBatch: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
  // 2026-07-28: caching hint for lists when definitions set none, how long an input_required
  // round may wait for its retry, and the key that seals its state (default: shared via the store).
  listTtlMs: Ms(60_000, 0),
  stateTtlMs: Ms(600_000),
  stateSecret: Type.Optional(Type.String({ minLength: 32 })),
  // Open subscriptions/listen streams; a full budget ends the oldest one, never refuses a new one.
  maxListeners: Type.Integer({ minimum: 1, default: 10_000 }),
  // 0: no budget of a principal's own (with one shared token it would be the server's).
  maxListenersPerPrincipal: Type.Integer({ minimum: 0, default: 0 }),
  instructions: Type.Optional(Type.String({ maxLength: 8192 })),
  // Tasks (long-running tool calls, SEP-2663): how long a task and its result are kept from its
  // creation, the poll interval suggested to clients, the runner's lease (a task whose instance
  // stopped is reported failed at most this long after), how long a task may run (tools that set
  // their own timeoutMs keep it), its largest result, and tasks running at once on this instance.
  taskTtlMs: Ms(3_600_000, 1000),
  taskPollIntervalMs: Ms(1000, 10),
  taskLeaseMs: Ms(15_000, 300),
  taskTimeoutMs: Ms(3_600_000, 1000),
  taskMaxResultBytes: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
  maxRunningTasks: Type.Integer({ minimum: 1, default: 1000 })
}, { additionalProperties: false })

export const AppOptionsSchema = Type.Object({
  auth: AuthOptionsSchema,
  sessions: SessionOptionsSchema,
  sse: SseOptionsSchema,
  limits: LimitOptionsSchema,
  fetchUrl: FetchUrlOptionsSchema,
  http: HttpOptionsSchema,
  mcp: McpOptionsSchema
}, { additionalProperties: false })

export type AuthOptions = Static<typeof AuthOptionsSchema>
export type SessionOptions = Static<typeof SessionOptionsSchema>
export type SseOptions = Static<typeof SseOptionsSchema>
export type LimitOptions = Static<typeof LimitOptionsSchema>
export type FetchUrlOptions = Static<typeof FetchUrlOptionsSchema>
export type HttpOptions = Static<typeof HttpOptionsSchema>
export type McpOptions = Static<typeof McpOptionsSchema>
export type AppConfig = Static<typeof AppOptionsSchema>
