import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { LazyLogger, lazyChild, lazyChildLoggerFactory } from '../lib/logging/log.js'

/** A pino logger writing into an array, with a fixed time so lines compare equal. */
function capture (level = 'info') {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done() } })
  let children = 0
  const logger = pino({ level, timestamp: () => ',"time":1', onChild: () => { children++ } }, stream)
  return { logger, lines, children: () => children }
}

t.test('an access line goes out through the parent, the same line a child would write', async (t) => {
  const lazy = capture()
  const log = lazyChildLoggerFactory(lazy.logger, { reqId: 'req-1' }, {}) as unknown as LazyLogger
  log.infoLine({ method: 'POST', url: '/message', statusCode: 202 }, 'request')
  t.equal(lazy.children(), 0, 'no child was made')

  const eager = capture()
  eager.logger.child({ reqId: 'req-1' }).info({ method: 'POST', url: '/message', statusCode: 202 }, 'request')
  t.same(lazy.lines, eager.lines)
  t.same(Object.keys(lazy.lines[0]), Object.keys(eager.lines[0]), 'keys in the same order')
})

t.test('anything else logged makes the child once, with its options', async (t) => {
  const { logger, lines, children } = capture()
  const log = lazyChildLoggerFactory(logger, { reqId: 'req-2' }, { level: 'warn' }) as unknown as LazyLogger
  log.infoLine({ statusCode: 200 }, 'request')
  t.equal(lines.length, 0, 'a route level of warn silences its info lines')
  log.warn({ code: 'x' }, 'careful')
  log.error('bad %s', 'thing')
  t.equal(children(), 1, 'one child, made on first use')
  t.match(lines, [{ reqId: 'req-2', code: 'x', msg: 'careful', level: 40 }, { reqId: 'req-2', msg: 'bad thing', level: 50 }])
  t.equal(log.level, 'warn')
})

t.test('children of lazy loggers are lazy too, and log with every binding', async (t) => {
  const { logger, lines, children } = capture('debug')
  const request = lazyChildLoggerFactory(logger, { reqId: 'req-3' }, {})
  const call = lazyChild(request, { sessionId: 's1' })
  const inner = call.child({ requestId: 'r1' })
  t.equal(children(), 0, 'nothing made yet')
  inner.debug('deep')
  ;(call as unknown as LazyLogger).infoLine({ statusCode: 200 }, 'request')
  t.match(lines, [{ reqId: 'req-3', sessionId: 's1', requestId: 'r1', msg: 'deep' }, { reqId: 'req-3', sessionId: 's1', statusCode: 200 }])
  t.equal(children(), 3, 'the three children, made once each when the innermost first logged')
})

t.test('serializers of the route keep the line on the child when they apply to it', async (t) => {
  const { logger, lines, children } = capture()
  const url = (value: string) => value.replace(/secret/, '[redacted]')
  const log = lazyChildLoggerFactory(logger, { reqId: 'req-4' }, { serializers: { url } }) as unknown as LazyLogger
  log.infoLine({ url: '/x?secret' }, 'request')
  t.equal(children(), 1, 'the child is made so its serializer runs')
  t.match(lines, [{ reqId: 'req-4', url: '/x?[redacted]' }])
  const other = lazyChildLoggerFactory(logger, { reqId: 'req-5' }, { serializers: { req: url } }) as unknown as LazyLogger
  other.infoLine({ url: '/y' }, 'request')
  t.equal(children(), 1, 'a serializer for other keys does not need the child')
})
