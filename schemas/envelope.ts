import { Type, type Static } from '@sinclair/typebox'

// The simple envelope dialect: POST /message bodies and the frames sent back on /events.

export const SessionId = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9._~-]+$',
  description: 'Client-chosen session id: 1–128 characters from A–Z a–z 0–9 . _ ~ -'
})

export const RequestId = Type.String({ minLength: 1, maxLength: 128 })

export const EventsQuery = Type.Object({
  session_id: SessionId,
  // For clients that cannot set the Last-Event-ID header.
  last_event_id: Type.Optional(Type.String({ maxLength: 64 })),
  ticket: Type.Optional(Type.String({ maxLength: 256 }))
})
export type EventsQuery = Static<typeof EventsQuery>

export const MessageQuery = Type.Object({ session_id: SessionId })
export type MessageQuery = Static<typeof MessageQuery>

export const MCPRequest = Type.Object({
  type: Type.Union([Type.Literal('list_tools'), Type.Literal('call_tool'), Type.Literal('get_task'), Type.Literal('cancel_task')]),
  request_id: RequestId,
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  // call_tool: run as a task (the tool must support tasks); get_task/cancel_task name it in data.task_id.
  task: Type.Optional(Type.Boolean())
})
export type MCPRequest = Static<typeof MCPRequest>

export const Accepted = Type.Object({
  status: Type.Literal('accepted'),
  request_id: RequestId,
  // A call_tool run as a task: the task exists (in the store) before this answer.
  task_id: Type.Optional(Type.String())
})

/** A frame on /events answering a request. */
export const MCPResponse = Type.Object({
  type: Type.Union([Type.Literal('list_tools'), Type.Literal('tool_result'), Type.Literal('task_status')]),
  request_id: RequestId,
  data: Type.Unknown()
})
export type MCPResponse = Static<typeof MCPResponse>

/** An error frame on /events. `request_id` is null for stream-level notices (dropped frames). */
export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  request_id: Type.Union([RequestId, Type.Null()]),
  error: Type.String(),
  code: Type.String()
})
export type ErrorFrame = Static<typeof ErrorFrame>

/** The JSON body of every 4xx/5xx HTTP answer. */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  code: Type.String(),
  message: Type.String()
})
export type ErrorResponse = Static<typeof ErrorResponse>
