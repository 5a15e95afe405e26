// The API page in a real browser: Debian's chromium, headless, driven over
// the DevTools protocol with node's own WebSocket (nothing downloaded).
//
// Env: BASE (the API's root URL, with its trailing slash), ANON_KEY, OUT (a
// folder for the screenshots), CHROMIUM (the browser; default `chromium`).
// Opens the page, enters the anon key, checks the list shows what anon may
// see and not what it may not, opens a table, runs a GET from the try-it
// panel and reads its rows, checks the phone width, and that the page asked
// nothing of any other origin and broke no rule of its security policy.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const BASE = process.env.BASE
const ANON_KEY = process.env.ANON_KEY
const OUT = process.env.OUT
if (!BASE || !ANON_KEY || !OUT) throw new Error('BASE, ANON_KEY and OUT must be set')
const ORIGIN = new URL(BASE).origin
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function check(what, ok, detail) {
  if (!ok) throw new Error(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`)
  console.log(`ok - ${what}`)
}

async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'page-test-'))
  const browser = spawn(process.env.CHROMIUM || 'chromium', [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank',
  ], { stdio: 'ignore' })
  // The browser writes the port it chose into the profile.
  const portFile = path.join(profile, 'DevToolsActivePort')
  for (let i = 0; i < 150 && !fs.existsSync(portFile); i++) await sleep(100)
  const port = fs.readFileSync(portFile, 'utf8').split('\n')[0]
  let targets = []
  for (let i = 0; i < 50 && !targets.some((t) => t.type === 'page'); i++) {
    targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json().catch(() => [])
    await sleep(100)
  }
  const page = targets.find((t) => t.type === 'page')
  const ws = new WebSocket(page.webSocketDebuggerUrl)
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject })
  const pending = new Map()
  const requests = []
  const problems = []
  let next = 0
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data)
    if (msg.id !== undefined) {
      pending.get(msg.id)?.(msg)
      pending.delete(msg.id)
    } else if (msg.method === 'Network.requestWillBeSent') {
      requests.push(msg.params.request.url)
    } else if (msg.method === 'Runtime.exceptionThrown') {
      problems.push(`exception: ${JSON.stringify(msg.params.exceptionDetails).slice(0, 300)}`)
    } else if (msg.method === 'Log.entryAdded' && /Content Security Policy|Refused to/.test(msg.params.entry.text)) {
      problems.push(`policy: ${msg.params.entry.text}`)
    }
  }
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    const id = ++next
    pending.set(id, (msg) => (msg.error ? reject(new Error(`${method}: ${msg.error.message}`)) : resolve(msg.result)))
    ws.send(JSON.stringify({ id, method, params }))
  })
  for (const domain of ['Runtime', 'Log', 'Page', 'Network']) await send(`${domain}.enable`)
  const close = () => { ws.close(); browser.kill() }
  return { send, requests, problems, close }
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true })
  const b = await launch()
  const size = (width, height) => b.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: width < 600 })
  const run = async (expression) => {
    const r = await b.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })
    if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`)
    return r.result.value
  }
  const until = async (what, expression, seconds = 10) => {
    const deadline = Date.now() + seconds * 1000
    for (;;) {
      const value = await run(expression).catch(() => undefined)
      if (value) return value
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await sleep(100)
    }
  }
  const shot = async (name) => {
    const { data } = await b.send('Page.captureScreenshot', { format: 'png' })
    fs.writeFileSync(path.join(OUT, name), Buffer.from(data, 'base64'))
  }
  try {
    await size(1280, 900)
    await b.send('Page.navigate', { url: BASE })
    await until('the key field', "document.querySelector('#key') !== null")
    check('the page asks for a key before anything else', await run("document.querySelectorAll('#nav a[data-name]').length") === 0)
    await run(`document.querySelector('#key').value = ${JSON.stringify(ANON_KEY)}; document.querySelector('#key-save').click()`)
    const names = await until('the list of tables', "(() => { const n = [...document.querySelectorAll('#nav a[data-name]')].map((a) => a.dataset.kind + ':' + a.dataset.name); return n.length ? n : null })()")
    for (const want of ['table:books', 'table:authors', 'table:reviews', 'view:cheap_books', 'function:average_price']) {
      check(`anon sees ${want}`, names.includes(want), names)
    }
    check('anon does not see staff_notes', !names.some((n) => n.endsWith(':staff_notes')), names)
    check('the key stays in the tab', await run('sessionStorage.length > 0 && localStorage.length === 0 && document.cookie === ""'))
    await shot('page-desktop.png')

    await run("document.querySelector('#nav a[data-name=\"books\"]').click()")
    await until('the books page', "location.hash === '#/table/books' && document.querySelector('#detail').innerText.includes('author_id')")
    const detail = await run("document.querySelector('#detail').innerText")
    check('books shows its relationships', /authors/.test(detail) && /reviews/.test(detail), detail.slice(0, 400))
    check('examples never hold the key', !detail.includes(ANON_KEY))
    const url = await until('the try-it URL', "document.querySelector('#try-url')?.textContent")
    check('the try-it URL is the API\'s', url.startsWith(`${BASE}books?`), url)
    await run("document.querySelector('#try-run').click()")
    const status = await until('the answer', "document.querySelector('#try-status')?.textContent.match(/\\d{3}/)?.[0]")
    check('the GET answered 200', status === '200', status)
    const rows = JSON.parse(await run("document.querySelector('#try-body').textContent"))
    check('the GET read rows of books', Array.isArray(rows) && rows.length > 0 && 'title' in rows[0], rows)
    await shot('page-books-desktop.png')

    await size(390, 844)
    await sleep(300)
    const overflow = await run('document.documentElement.scrollWidth - window.innerWidth')
    check('nothing scrolls sideways at phone width', overflow <= 1, overflow)
    await shot('page-books-phone.png')

    await run("location.hash = '#/diagram'")
    await until('the diagram', "document.querySelectorAll('svg#diagram a, svg#diagram g').length > 0")
    await size(1280, 900)
    await sleep(300)
    await shot('page-diagram-desktop.png')

    const foreign = b.requests.filter((u) => !u.startsWith(ORIGIN) && !u.startsWith('data:') && u !== 'about:blank')
    check('nothing was asked of another origin', foreign.length === 0, foreign)
    check('no script error and no policy violation', b.problems.length === 0, b.problems)
    console.log(`${b.requests.length} requests, all to ${ORIGIN}; screenshots in ${OUT}`)
  } finally {
    b.close()
  }
}

main().catch((e) => { console.error(`not ok - ${e.message}`); process.exit(1) })
