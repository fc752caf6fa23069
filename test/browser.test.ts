import { existsSync, mkdirSync } from 'node:fs'
import t from 'tap'
import { startApp } from './helper.js'

const CHROMIUM = '/usr/bin/chromium'

t.test('demo page in real Chromium: ticket, EventSource, get_time', async (t) => {
  if (!existsSync(CHROMIUM)) {
    const why = `${CHROMIUM} not found (apt-get install -y chromium)`
    if (process.env.CI === 'true') { t.fail(`${why}: the browser test must run under CI`); return }
    console.error(`\n!!! SKIPPING BROWSER TEST: ${why} !!!\n`)
    t.skip(why)
    return
  }
  const { chromium } = await import('playwright-core')
  const srv = await startApp({ http: { demoPage: true } })
  t.teardown(srv.close)
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))

  await page.goto(`${srv.url}/`)
  t.equal(await page.title(), 'DataPulseSSE demo')
  await page.fill('#token', 'secret_token')
  await page.click('#connect')
  await page.waitForSelector('#status.open', { timeout: 10_000 })
  t.equal(await page.textContent('#status'), 'connected')

  await page.click('#time')
  const frame = page.locator('#frames li', { hasText: 'tool_result' })
  await frame.first().waitFor({ timeout: 10_000 })
  const text = await frame.first().textContent() ?? ''
  t.match(text, /"type": "tool_result"/)
  t.match(text, /"time": "\d{4}-\d\d-\d\dT[^"]+Z"/, 'the get_time result is on the page')

  await page.click('#list')
  await page.locator('#frames li', { hasText: 'list_tools' }).first().waitFor({ timeout: 10_000 })

  // The stream drops (another stream takes the session over); meanwhile a result arrives. The page
  // fetches a new ticket by itself and resumes from its last event id: the result is shown.
  const session = await page.inputValue('#session')
  const { SseClient, post } = await import('./helper.js')
  const thief = await SseClient.open(`${srv.url}/events?session_id=${session}`)
  t.teardown(() => thief.close())
  await post(srv.url, `/message?session_id=${session}`, { type: 'call_tool', request_id: 'while-away', data: { name: 'get_time' } })
  await page.locator('#frames li', { hasText: 'while-away' }).first().waitFor({ timeout: 15_000 })
  await page.waitForSelector('#status.open', { timeout: 10_000 })
  t.pass('after a drop the page reconnected by itself and showed what it missed')

  const dir = new URL('./artifacts/', import.meta.url)
  mkdirSync(dir, { recursive: true })
  await page.screenshot({ path: new URL('demo-page.png', dir).pathname, fullPage: true })
  t.same(errors, [], 'no script errors on the page')

  // A wrong token is reported on the page, not thrown.
  await page.fill('#token', 'nope')
  await page.click('#connect')
  await page.locator('#frames li.error', { hasText: '401' }).first().waitFor({ timeout: 10_000 })
  t.pass('a bad token shows an error frame')
})

t.test('the demo page is off unless enabled', async (t) => {
  const srv = await startApp()
  t.teardown(srv.close)
  const res = await fetch(`${srv.url}/`)
  t.equal(res.status, 404)
})
