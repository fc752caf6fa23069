// The "everything" server: every MCP feature the conformance suite exercises, built only with
// the package's public API. `npm run everything` starts it like `npm start` (same environment
// settings), with anonymous access for loopback clients because the suite sends no token.
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import dataPulse, {
  defineTool, definePrompt, defineResource, defineResourceTemplate, McpError, ToolError, type DataPulseOptions, type ToolContext
} from '../index.js'

// A 1×1 PNG and a short silent WAV, for the media content types.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=='
const WAV = (() => {
  const samples = 8
  const b = Buffer.alloc(44 + samples * 2)
  b.write('RIFF', 0); b.writeUInt32LE(36 + samples * 2, 4); b.write('WAVE', 8)
  b.write('fmt ', 12); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22)
  b.writeUInt32LE(8000, 24); b.writeUInt32LE(16000, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34)
  b.write('data', 36); b.writeUInt32LE(samples * 2, 40)
  return b.toString('base64')
})()

const none = Type.Object({})
const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve, reject) => {
  const timer = setTimeout(resolve, ms)
  signal.addEventListener('abort', () => { clearTimeout(timer); reject(new Error('cancelled')) }, { once: true })
})
const nameSchema = { type: 'object' as const, properties: { name: { type: 'string' } }, required: ['name'] }

const contentTools = [
  defineTool({
    name: 'test_simple_text',
    description: 'Returns a simple text response',
    input: none,
    annotations: { readOnlyHint: true, openWorldHint: false },
    handler: () => 'This is a simple text response for testing.'
  }),
  defineTool({
    name: 'test_image_content',
    description: 'Returns an image',
    input: none,
    handler: () => [{ type: 'image' as const, data: PNG, mimeType: 'image/png' }]
  }),
  defineTool({
    name: 'test_audio_content',
    description: 'Returns audio',
    input: none,
    handler: () => [{ type: 'audio' as const, data: WAV, mimeType: 'audio/wav' }]
  }),
  defineTool({
    name: 'test_embedded_resource',
    description: 'Returns an embedded resource',
    input: none,
    handler: () => [{
      type: 'resource' as const,
      resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' }
    }]
  }),
  defineTool({
    name: 'test_multiple_content_types',
    description: 'Returns text, an image and an embedded resource',
    input: none,
    handler: () => [
      { type: 'text' as const, text: 'Multiple content types test:' },
      { type: 'image' as const, data: PNG, mimeType: 'image/png' },
      { type: 'resource' as const, resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: '{"test":"data","value":123}' } }
    ]
  }),
  defineTool({
    name: 'test_error_handling',
    description: 'Always fails, as a tool error the model sees',
    input: none,
    handler: () => { throw new Error('This tool intentionally returns an error for testing') }
  }),
  defineTool({
    name: 'test_structured_output',
    description: 'Returns structured content checked against its output schema',
    input: Type.Object({ city: Type.String({ default: 'Paris' }) }),
    output: Type.Object({ city: Type.String(), temperature: Type.Number() }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    handler: ({ city }) => ({ city, temperature: 21.5 })
  })
]

const streamingTools = [
  defineTool({
    name: 'test_tool_with_progress',
    description: 'Reports progress three times, then answers',
    input: none,
    handler: async (_args, ctx) => {
      for (const step of [0, 50, 100]) {
        await ctx.progress(step, 100, `step ${step}`)
        if (step < 100) await sleep(50, ctx.signal)
      }
      return 'Progress test completed'
    }
  }),
  defineTool({
    name: 'test_tool_with_logging',
    description: 'Sends three log messages to the client while it runs',
    input: none,
    handler: async (_args, ctx) => {
      await ctx.clientLog('info', 'Tool execution started')
      await sleep(50, ctx.signal)
      await ctx.clientLog('info', 'Tool processing data')
      await sleep(50, ctx.signal)
      await ctx.clientLog('info', 'Tool execution completed')
      return 'Logging test completed'
    }
  }),
  defineTool({
    name: 'test_logging_tool',
    description: 'Logs one message when the client asked for logs',
    input: none,
    handler: async (_args, ctx) => {
      await ctx.clientLog('info', 'test_logging_tool ran')
      return 'Logged'
    }
  }),
  defineTool({
    name: 'test_sampling',
    description: 'Asks the client model to answer a prompt',
    input: Type.Object({ prompt: Type.String({ default: 'Hello' }) }),
    handler: async ({ prompt }, ctx) => {
      const answer = await ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 })
      const content = Array.isArray(answer.content) ? answer.content[0] : answer.content
      return `LLM response: ${content?.type === 'text' ? content.text : JSON.stringify(content)}`
    }
  }),
  defineTool({
    name: 'test_elicitation',
    description: 'Asks the user for a name and an email',
    input: Type.Object({ message: Type.String({ default: 'Please provide your information' }) }),
    handler: async ({ message }, ctx) => {
      const answer = await ctx.elicit({
        message,
        requestedSchema: {
          type: 'object',
          properties: {
            username: { type: 'string', description: "User's response" },
            email: { type: 'string', description: "User's email address" }
          },
          required: ['username', 'email']
        }
      })
      return `User response: <action: ${answer.action}, content: ${JSON.stringify(answer.content ?? {})}>`
    }
  }),
  defineTool({
    name: 'test_elicitation_sep1034_defaults',
    description: 'Elicitation whose fields carry defaults (SEP-1034)',
    input: none,
    handler: async (_args, ctx) => {
      const answer = await ctx.elicit({
        message: 'Please review and update the form fields with defaults',
        requestedSchema: {
          type: 'object',
          properties: {
            name: { type: 'string', description: 'User name', default: 'John Doe' },
            age: { type: 'integer', description: 'User age', default: 30 },
            score: { type: 'number', description: 'User score', default: 95.5 },
            status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
            verified: { type: 'boolean', description: 'Verification status', default: true }
          }
        }
      })
      return `Elicitation completed: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`
    }
  }),
  defineTool({
    name: 'test_elicitation_sep1330_enums',
    description: 'Elicitation with every enum form (SEP-1330)',
    input: none,
    handler: async (_args, ctx) => {
      const answer = await ctx.elicit({
        message: 'Please select options from the enum fields',
        requestedSchema: {
          type: 'object',
          properties: {
            untitledSingle: { type: 'string', description: 'Select one option', enum: ['option1', 'option2', 'option3'] },
            titledSingle: {
              type: 'string',
              description: 'Select one option with titles',
              oneOf: [{ const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' }, { const: 'value3', title: 'Third Option' }]
            },
            legacyEnum: { type: 'string', description: 'Select one option (legacy)', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
            untitledMulti: {
              type: 'array', description: 'Select multiple options', minItems: 1, maxItems: 3,
              items: { type: 'string', enum: ['option1', 'option2', 'option3'] }
            },
            titledMulti: {
              type: 'array', description: 'Select multiple options with titles', minItems: 1, maxItems: 3,
              items: { anyOf: [{ const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' }, { const: 'value3', title: 'Third Choice' }] }
            }
          }
        }
      })
      return `Elicitation completed: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`
    }
  }),
  defineTool({
    name: 'test_missing_capability',
    description: 'Needs the client sampling capability',
    input: none,
    handler: async (_args, ctx) => {
      const answer = await ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: 'ping' } }], maxTokens: 10 })
      return `sampled: ${JSON.stringify(answer.content)}`
    }
  }),
  defineTool({
    name: 'test_streaming_elicitation',
    description: 'Asks the user a question mid-call',
    input: none,
    handler: async (_args, ctx) => {
      const answer = await ctx.elicit({ message: 'What is your name?', requestedSchema: nameSchema })
      return `Hello, ${String(answer.content?.name ?? 'stranger')}!`
    }
  }),
  defineTool({
    name: 'test_reconnection',
    description: 'Answers after a pause, long enough to be resumed over a broken stream',
    input: none,
    handler: async (_args, ctx) => { await sleep(700, ctx.signal); return 'Reconnection test completed' }
  })
]

/** Tools for the 2026-07-28 multi-round-trip (input_required) scenarios; they work in 2025 too. */
const roundTripTools = [
  defineTool({
    name: 'test_input_required_result_elicitation',
    description: 'Asks for the user name, then greets',
    input: none,
    handler: async (_args, ctx) => {
      const answer = await ctx.elicit({ message: 'What is your name?', requestedSchema: nameSchema }, { key: 'user_name' })
      return `Hello, ${String(answer.content?.name)}!`
    }
  }),
  defineTool({
    name: 'test_input_required_result_sampling',
    description: 'Asks the client model a question',
    input: none,
    handler: async (_args, ctx) => {
      const answer = await ctx.sample({
        messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }], maxTokens: 100
      }, { key: 'capital_question' })
      return `Sampled: ${JSON.stringify(answer.content)}`
    }
  }),
  defineTool({
    name: 'test_input_required_result_list_roots',
    description: 'Lists the client roots',
    input: none,
    handler: async (_args, ctx) => {
      const { roots } = await ctx.listRoots({ key: 'client_roots' })
      return `Roots: ${roots.map((r) => r.uri).join(', ')}`
    }
  }),
  defineTool({
    name: 'test_input_required_result_request_state',
    description: 'Asks for a confirmation, carrying state between rounds',
    input: none,
    handler: async (_args, ctx) => {
      const answer = await ctx.elicit({ message: 'Please confirm', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }, { key: 'confirm' })
      return `state-ok: confirmed=${String(answer.content?.ok)}`
    }
  }),
  defineTool({
    name: 'test_input_required_result_tampered_state',
    description: 'Like request_state; a tampered state is refused',
    input: none,
    handler: async (_args, ctx) => {
      const answer = await ctx.elicit({ message: 'Please confirm', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }, { key: 'confirm' })
      return `confirmed=${String(answer.content?.ok)}`
    }
  }),
  defineTool({
    name: 'test_input_required_result_multiple_inputs',
    description: 'Asks three things at once',
    input: none,
    handler: async (_args, ctx) => {
      const [name, greeting, roots] = await Promise.all([
        ctx.elicit({ message: 'What is your name?', requestedSchema: nameSchema }, { key: 'user_name' }),
        ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 }, { key: 'greeting' }),
        ctx.listRoots({ key: 'client_roots' })
      ])
      return `name=${String(name.content?.name)} greeting=${JSON.stringify(greeting.content)} roots=${roots.roots.length}`
    }
  }),
  defineTool({
    name: 'test_input_required_result_multi_round',
    description: 'Asks two questions, one after the other',
    input: none,
    handler: async (_args, ctx) => {
      const name = await ctx.elicit({ message: 'Step 1: What is your name?', requestedSchema: nameSchema }, { key: 'step1' })
      const color = await ctx.elicit({
        message: 'Step 2: What is your favorite color?',
        requestedSchema: { type: 'object', properties: { color: { type: 'string' } }, required: ['color'] }
      }, { key: 'step2' })
      return `${String(name.content?.name)} likes ${String(color.content?.color)}`
    }
  }),
  defineTool({
    name: 'test_input_required_result_capabilities',
    description: 'Asks through whichever capability the client declared',
    input: none,
    handler: async (_args, ctx: ToolContext) => {
      const caps = await ctx.clientCapabilities()
      if (caps.elicitation) {
        const answer = await ctx.elicit({ message: 'What is your name?', requestedSchema: nameSchema }, { key: 'user_name' })
        return `Hello, ${String(answer.content?.name)}!`
      }
      const answer = await ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: 'Name someone' } }], maxTokens: 20 }, { key: 'name_sample' })
      return `Sampled: ${JSON.stringify(answer.content)}`
    }
  })
]

const resources = [
  defineResource({
    uri: 'test://static-text', name: 'static-text', title: 'Static text', description: 'A static text resource', mimeType: 'text/plain',
    read: () => 'This is the content of the static text resource.'
  }),
  defineResource({
    uri: 'test://static-binary', name: 'static-binary', description: 'A static binary resource (a PNG)', mimeType: 'image/png',
    read: () => Buffer.from(PNG, 'base64')
  }),
  defineResource({
    uri: 'test://watched-resource', name: 'watched-resource', description: 'A resource whose updates can be subscribed to', mimeType: 'text/plain',
    read: () => 'Watched resource content'
  })
]

const resourceTemplates = [
  defineResourceTemplate({
    uriTemplate: 'test://template/{id}/data', name: 'template', description: 'Data for an id', mimeType: 'application/json',
    complete: { id: (value) => ['123', '456', '789'].filter((id) => id.startsWith(value)) },
    read: (_uri, { id }) => JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` })
  })
]

const text = (value: string) => ({ role: 'user' as const, content: { type: 'text' as const, text: value } })

const prompts = [
  definePrompt({
    name: 'test_simple_prompt', description: 'A prompt without arguments',
    get: () => [text('This is a simple prompt for testing.')]
  }),
  definePrompt({
    name: 'test_prompt_with_arguments', description: 'A prompt with two required arguments',
    arguments: Type.Object({ arg1: Type.String({ description: 'First argument' }), arg2: Type.String({ description: 'Second argument' }) }),
    complete: { arg1: (value) => ['test', 'testValue1', 'other'].filter((v) => v.startsWith(value)) },
    get: ({ arg1, arg2 }) => [text(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`)]
  }),
  definePrompt({
    name: 'test_prompt_with_embedded_resource', description: 'A prompt embedding a resource',
    arguments: Type.Object({ resourceUri: Type.String({ description: 'URI of the resource to embed' }) }),
    get: ({ resourceUri }) => [
      { role: 'user', content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
      text('Please process the embedded resource above.')
    ]
  }),
  definePrompt({
    name: 'test_prompt_with_image', description: 'A prompt with an image',
    get: () => [{ role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } }, text('Please analyze the image above.')]
  }),
  definePrompt({
    name: 'test_input_required_result_prompt', description: 'A prompt that asks the user for context first',
    get: async (_args, ctx) => {
      const answer = await ctx.elicit({
        message: 'What context should the prompt use?',
        requestedSchema: { type: 'object', properties: { context: { type: 'string' } }, required: ['context'] }
      }, { key: 'user_context' })
      return [text(`Use this context: ${String(answer.content?.context)}`)]
    }
  })
]

/** Hooks the 2026 subscription scenarios call to make a list change. */
// Schema keywords a client must see unchanged in tools/list (SEP-1613, SEP-2106): TypeBox keeps
// options it does not know, so the published schema is this JSON Schema 2020-12 document.
const address = Type.Object({ street: Type.Optional(Type.String()), city: Type.Optional(Type.String()) })
const schemaTools = [
  defineTool({
    name: 'json_schema_2020_12_tool',
    description: 'Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)',
    input: Type.Object({
      name: Type.Optional(Type.String()),
      address: Type.Optional(address),
      contactMethod: Type.Optional(Type.Union([Type.Literal('phone'), Type.Literal('email')])),
      phone: Type.Optional(Type.String()),
      email: Type.Optional(Type.String())
    }, {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $defs: { address: { $anchor: 'addressDef', type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
      allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
      if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
      then: { required: ['phone'] },
      else: { required: ['email'] },
      additionalProperties: false
    }),
    handler: (args) => ({ received: args })
  }),
  // A parameter mirrored in a header (SEP-2243): 2026-07-28 callers send it as Mcp-Param-Region too.
  defineTool({
    name: 'test_param_header',
    description: 'Echoes a region that the caller also sends in the Mcp-Param-Region header',
    input: Type.Object({ region: Type.String({ 'x-mcp-header': 'Region' }) }),
    handler: ({ region }) => `region ${region}`
  })
]

const triggers = [
  defineTool({
    name: 'test_trigger_tool_change', description: 'Announces a change of the tool list', input: none,
    handler: async (_args, ctx) => { await ctx.changes.listChanged('tools'); return 'tools list_changed sent' }
  }),
  defineTool({
    name: 'test_trigger_prompt_change', description: 'Announces a change of the prompt list', input: none,
    handler: async (_args, ctx) => { await ctx.changes.listChanged('prompts'); return 'prompts list_changed sent' }
  }),
  defineTool({
    name: 'test_trigger_resource_update', description: 'Announces an update of test://watched-resource', input: none,
    handler: async (_args, ctx) => { await ctx.changes.resourceUpdated('test://watched-resource'); return 'resource update sent' }
  })
]

/** Tools for the tasks extension's scenarios (long-running calls, SEP-2663). */
const confirmSchema = { type: 'object' as const, properties: { confirm: { type: 'boolean' }, name: { type: 'string' } } }
const taskTools = [
  defineTool({
    name: 'greet',
    description: 'Greets by name, at once (never a task)',
    input: Type.Object({ name: Type.String() }),
    handler: ({ name }) => `Hello, ${name}!`
  }),
  defineTool({
    name: 'slow_compute',
    description: 'Sleeps for the given seconds, then reports; a task for clients that support tasks',
    input: Type.Object({ seconds: Type.Number({ minimum: 0, maximum: 3600 }), label: Type.Optional(Type.String()) }),
    execution: { taskSupport: 'optional' },
    handler: async ({ seconds, label }, ctx) => {
      await ctx.progress(0, seconds, `computing ${label ?? ''}`.trim())
      await sleep(seconds * 1000, ctx.signal)
      return `Computed ${label ?? 'result'} after ${seconds} s`
    }
  }),
  defineTool({
    name: 'failing_job',
    description: 'Fails as a tool after a second; runs only as a task',
    input: none,
    execution: { taskSupport: 'required' },
    handler: async (_args, ctx) => {
      await sleep(1000, ctx.signal)
      throw new ToolError('the job failed')
    }
  }),
  defineTool({
    name: 'protocol_error_job',
    description: 'Ends with a protocol error (the task fails)',
    input: none,
    execution: { taskSupport: 'optional' },
    handler: async () => { throw new McpError(-32603, 'the job broke down') }
  }),
  defineTool({
    name: 'confirm_delete',
    description: 'Asks for confirmation before deleting a file (as a task)',
    input: Type.Object({ filename: Type.String() }),
    execution: { taskSupport: 'optional' },
    handler: async ({ filename }, ctx) => {
      const answer = await ctx.elicit({ message: `Delete ${filename}?`, requestedSchema: confirmSchema })
      return answer.action === 'accept' && answer.content?.confirm === true ? `Deleted ${filename}` : `Kept ${filename}`
    }
  }),
  defineTool({
    name: 'multi_input',
    description: 'Asks two questions at once (as a task)',
    input: none,
    execution: { taskSupport: 'optional' },
    handler: async (_args, ctx) => {
      const [first, second] = await Promise.all([
        ctx.elicit({ message: 'First name?', requestedSchema: confirmSchema }),
        ctx.elicit({ message: 'Second name?', requestedSchema: confirmSchema })
      ])
      return `Got ${String(first.content?.name)} and ${String(second.content?.name)}`
    }
  }),
  defineTool({
    name: 'test_tool_with_task',
    description: 'Asks for the user name within the call, then goes on as a task',
    input: none,
    execution: { taskSupport: 'required', taskStart: 'handler' },
    handler: async (_args, ctx) => {
      const answer = await ctx.elicit({ message: 'What is your name?', requestedSchema: nameSchema }, { key: 'user_name' })
      await ctx.runAsTask()
      await sleep(100, ctx.signal)
      return `Hello, ${String(answer.content?.name)}!`
    }
  })
]

/** The everything server's definitions, to register on any app (tests use this too). */
export const everything: DataPulseOptions = {
  tools: [...contentTools, ...streamingTools, ...roundTripTools, ...taskTools, ...schemaTools, ...triggers],
  resources,
  resourceTemplates,
  prompts
}

/**
 * Root plugin for `fastify start`: the package's app with the everything definitions. The
 * conformance suite cannot send a token, so loopback clients are served anonymously
 * (`auth.anonymous`: never honoured for a connection from another address).
 */
export default async function everythingServer (fastify: FastifyInstance, opts: DataPulseOptions) {
  await fastify.register(dataPulse, { ...opts, ...everything, auth: { anonymous: true, ...opts.auth } })
}

export { options } from '../index.js'
