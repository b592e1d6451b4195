import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { encryptPayload } from '../../src/intake/decrypt.js'

/**
 * A real HTTP server imitating the Enzoic REST API (docs/enzoic-api.md): webhooks management, the
 * webhook test call (which POSTs a test alert to the default webhook, optionally encrypted and over
 * mTLS), breach monitoring by user and exposure details. Shapes the docs do not state are marked
 * UNCONFIRMED; the client (src/enzoic/client.ts) tolerates the alternatives.
 */

export interface FakeWebhook { webhookID: string, url: string, key: string, secret: string, default: boolean }
export interface FakeMonitoredUser { usernameHash: string, customData?: string, webhookID?: string }
export interface JournalEntry {
  method: string
  /** Relative to the base URL, without the query, e.g. `/webhooks`. */
  path: string
  query: Record<string, string>
  status: number
  body?: unknown
  /** When the request arrived (ms since the epoch). */
  at: number
}
export interface TestDelivery {
  webhookID: string
  /** The receiver's answer, or `error` when there was none. */
  status?: number
  error?: string
  /** The receiver's response body. */
  body?: string
  /** What the fake POSTed (JSON, or Base64 when encrypted). */
  sent: string
  exposureID?: string
  at: number
}
export interface DeliveryOptions {
  clientCert?: { cert: string | Buffer, key: string | Buffer }
  /** Trusted CA(s) for an https webhook URL. */
  ca?: string | Buffer
  encrypt?: { key: Buffer, cipher: 'cbc' | 'gcm' }
  /** Merged into the test payload's top level; an `undefined` value removes the key. */
  extra?: Record<string, unknown>
  /** Default: application/json, text/plain when encrypted (UNCONFIRMED what Enzoic sends). */
  contentType?: string
}

export interface EnzoicFake {
  /** Base URL including /v1. */
  url: string
  apiKey: string
  apiSecret: string
  /** The variables that point the CLI at this fake: ENZOIC_API_URL, ENZOIC_API_KEY, ENZOIC_API_SECRET. */
  env: Record<string, string>
  webhooks: FakeWebhook[]
  /** Keyed by usernameHash. */
  monitored: Map<string, FakeMonitoredUser>
  /** Exposure-details answers by id. */
  exposures: Map<string, Record<string, unknown>>
  journal: JournalEntry[]
  /** What happened to each test POST. */
  testDeliveries: TestDelivery[]
  /** How the test call delivers: client certificate (mTLS), encryption, extra fields. Replaces earlier options. */
  setDelivery (opts: DeliveryOptions): void
  /** Resolves with `testDeliveries[n - 1]` once the n-th test delivery has finished (default n = 1). */
  waitForDelivery (n?: number, timeoutMs?: number): Promise<TestDelivery>
  /**
   * The next `times` (default: unlimited) requests matching `match` (default: all) answer `status`.
   * 429 and 503 carry `Retry-After: retryAfter` (seconds, default 1 for 429).
   */
  fail (status: number, opts?: { times?: number, match?: (method: string, path: string) => boolean, retryAfter?: number }): void
  /** Delay before every answer. */
  setLatency (ms: number): void
  /** Removes every fault and the latency. */
  clearFaults (): void
  close (): Promise<void>
}

/** The doc sample's address; its hash is in Enzoic's own example payload. */
export const SAMPLE_USERNAME = 'sample@email.tst'
export const MAX_BATCH = 15000

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex')
const md5 = (s: string): string => createHash('md5').update(s, 'utf8').digest('hex')
const HASH = /^[0-9a-f]{64}$/i

/** Now as .NET writes it: 7 fraction digits, `Z`. */
function enzoicNow (): string {
  const iso = new Date().toISOString()
  return iso.replace(/\.(\d{3})Z$/, (_m, ms: string) => `.${ms}${String(Math.floor(Math.random() * 10000)).padStart(4, '0')}Z`)
}

function basic (key: string, secret: string): string {
  return 'Basic ' + Buffer.from(`${key}:${secret}`, 'utf8').toString('base64')
}

function sameText (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

async function readBody (req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

interface Fault { status: number, remaining: number, match?: (method: string, path: string) => boolean, retryAfter?: number }

export async function startEnzoicFake (opts: { apiKey?: string, apiSecret?: string } = {}): Promise<EnzoicFake> {
  const apiKey = opts.apiKey ?? 'enzoic-api-key'
  const apiSecret = opts.apiSecret ?? 'enzoic-api-secret-do-not-leak'
  const expectedAuth = basic(apiKey, apiSecret)
  const webhooks: FakeWebhook[] = []
  const monitored = new Map<string, FakeMonitoredUser>()
  const exposures = new Map<string, Record<string, unknown>>()
  const journal: JournalEntry[] = []
  const testDeliveries: TestDelivery[] = []
  let faults: Fault[] = []
  let latencyMs = 0
  let delivery: DeliveryOptions = {}
  const timers = new Set<NodeJS.Timeout>()
  const outgoing = new Set<ClientRequest>()
  const waiters = new Set<() => void>()
  /** Paging snapshots: a listing pages through the users as they were on its first page. */
  const snapshots = new Map<string, FakeMonitoredUser[]>()
  let closed = false

  const later = async (ms: number): Promise<void> => await new Promise(resolve => {
    const t = setTimeout(() => { timers.delete(t); resolve() }, ms)
    timers.add(t)
  })

  const defaultHook = (): FakeWebhook | undefined => webhooks.find(w => w.default)
  const hookById = (id: string | undefined): FakeWebhook | undefined => id === undefined ? undefined : webhooks.find(w => w.webhookID === id)
  const extended = (u: FakeMonitoredUser): Record<string, unknown> => {
    const hook = hookById(u.webhookID) ?? defaultHook()
    return { usernameHash: u.usernameHash, customData: u.customData ?? '', webhookID: hook?.webhookID ?? '', webhookURL: hook?.url ?? '' }
  }

  function record (d: TestDelivery): void {
    testDeliveries.push(d)
    for (const w of waiters) w()
  }

  function samplePayload (type: string): Record<string, unknown> {
    const exposureID = randomBytes(12).toString('hex')
    if (type === 'piiAlert') {
      return { type: 'piiAlert', date: enzoicNow(), alertID: exposureID, username: SAMPLE_USERNAME, exposedData: ['Names', 'Phone Numbers'] }
    }
    if (type === 'binAlert') {
      return { type: 'binAlert', date: enzoicNow(), exposureID, monitoredBin: '411111', cardCount: 3 }
    }
    const details = {
      title: 'Sample Exposure',
      date: '2016-10-12T00:00:00.0000000Z',
      entries: 1_500_000,
      domainsAffected: 12_345,
      category: 'Test',
      sourceURLs: [],
      source: 'Enzoic webhook test',
      passwordTypes: [1],
      exposedData: ['Emails', 'Passwords'],
      dateAdded: enzoicNow()
    }
    // Also answerable through the Exposure Details API, as a real exposure would be.
    exposures.set(exposureID, { id: exposureID, ...details, passwordTypes: undefined, passwordType: 'MD5', sourceFileCount: 1 })
    return {
      date: enzoicNow(),
      exposureID,
      username: SAMPLE_USERNAME,
      usernameHash: sha256(SAMPLE_USERNAME),
      passwordType: 1,
      passwordHash: md5('password123!'),
      passwordSalt: '',
      exposureDetails: details
    }
  }

  function deliver (hook: FakeWebhook, type: string): void {
    const payload: Record<string, unknown> = { ...samplePayload(type) }
    for (const [k, v] of Object.entries(delivery.extra ?? {})) {
      if (v === undefined) delete payload[k]
      else payload[k] = v
    }
    let sent = JSON.stringify(payload)
    let contentType = 'application/json'
    if (delivery.encrypt !== undefined) {
      sent = encryptPayload(Buffer.from(sent, 'utf8'), delivery.encrypt.key, delivery.encrypt.cipher)
      contentType = 'text/plain'
    }
    contentType = delivery.contentType ?? contentType
    const base = { webhookID: hook.webhookID, sent, exposureID: typeof payload.exposureID === 'string' ? payload.exposureID : undefined, at: Date.now() }
    let target: URL
    try {
      target = new URL(hook.url)
    } catch {
      record({ ...base, error: 'invalid webhook URL' })
      return
    }
    const https = target.protocol === 'https:'
    const options = {
      method: 'POST',
      timeout: 5000,
      headers: {
        authorization: basic(hook.key, hook.secret),
        'content-type': contentType,
        'content-length': Buffer.byteLength(sent),
        'user-agent': 'Enzoic-Webhooks (fake)'
      },
      ...(https ? { cert: delivery.clientCert?.cert, key: delivery.clientCert?.key, ca: delivery.ca } : {})
    }
    let done = false
    const finish = (d: Partial<TestDelivery>): void => {
      if (done) return
      done = true
      outgoing.delete(req)
      record({ ...base, ...d })
    }
    const req = (https ? httpsRequest : httpRequest)(target, options, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => finish({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', err => finish({ status: res.statusCode, error: (err as NodeJS.ErrnoException).code ?? err.message }))
    })
    outgoing.add(req)
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', err => finish({ error: (err as NodeJS.ErrnoException).code ?? err.message }))
    req.end(sent)
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now()
    const method = req.method ?? 'GET'
    const u = new URL(req.url ?? '/', 'http://fake.invalid')
    const query = Object.fromEntries(u.searchParams)
    const inV1 = u.pathname === '/v1' || u.pathname.startsWith('/v1/')
    const path = inV1 ? u.pathname.slice(3) : u.pathname
    const raw = await readBody(req)
    let body: unknown
    let badJson = false
    if (raw.length > 0) {
      try { body = JSON.parse(raw.toString('utf8')) } catch { body = raw.toString('utf8').slice(0, 1000); badJson = true }
    }
    const reply = (status: number, json?: unknown, headers: Record<string, string> = {}): void => {
      journal.push({ method, path, query, status, body, at })
      if (res.destroyed) return
      const text = json === undefined ? '' : JSON.stringify(json)
      res.writeHead(status, { ...(text === '' ? {} : { 'content-type': 'application/json; charset=utf-8' }), ...headers })
      res.end(text)
    }

    if (latencyMs > 0) await later(latencyMs)
    if (closed) { res.destroy(); return }

    const fault = faults.find(f => f.remaining > 0 && (f.match === undefined || f.match(method, path)))
    if (fault !== undefined) {
      fault.remaining--
      const retryAfter = fault.retryAfter ?? (fault.status === 429 ? 1 : undefined)
      reply(fault.status, { error: 'injected fault' }, retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) })
      return
    }
    if (!inV1) { reply(404, { error: 'not found' }); return }
    if (!sameText(req.headers.authorization ?? '', expectedAuth)) {
      reply(401, { error: 'Unauthorized' }, { 'www-authenticate': 'Basic realm="Enzoic API"' })
      return
    }
    if (badJson) { reply(400, { error: 'body is not JSON' }); return }
    const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>

    switch (`${method} ${path}`) {
      case 'POST /webhooks': {
        let ok = false
        try { ok = typeof b.url === 'string' && ['http:', 'https:'].includes(new URL(b.url).protocol) } catch {}
        if (!ok) { reply(400, { error: 'url must be an http(s) URL' }); return }
        const makeDefault = b.default === true || webhooks.length === 0
        if (makeDefault) for (const w of webhooks) w.default = false
        const hook: FakeWebhook = {
          webhookID: randomBytes(12).toString('hex'),
          url: b.url as string,
          key: randomBytes(12).toString('hex'),
          secret: randomBytes(24).toString('base64url'),
          default: makeDefault
        }
        webhooks.push(hook)
        reply(201, { ...hook })
        return
      }
      case 'GET /webhooks':
        // UNCONFIRMED: the real list shape is not documented. An object holding an array, no secrets,
        // one extra field to keep the client tolerant.
        reply(200, { webhooks: webhooks.map(w => ({ webhookID: w.webhookID, url: w.url, key: w.key, default: w.default, dateCreated: '2025-01-01T00:00:00.0000000Z' })) })
        return
      case 'DELETE /webhooks': {
        // UNCONFIRMED: the id as a query parameter (the body is accepted too).
        const id = query.webhookID ?? (typeof b.webhookID === 'string' ? b.webhookID : undefined)
        const i = webhooks.findIndex(w => w.webhookID === id)
        if (i < 0) { reply(404, { error: 'webhook not found' }); return }
        const [gone] = webhooks.splice(i, 1)
        if (gone!.default && webhooks.length > 0) webhooks[0]!.default = true
        reply(200, { deleted: 1 })
        return
      }
      case 'GET /webhook-test': {
        // UNCONFIRMED path (third-party code) and test payload (the doc's own sample).
        const type = query.type ?? 'breachAlert'
        if (!['breachAlert', 'binAlert', 'piiAlert'].includes(type)) { reply(400, { error: 'unknown type' }); return }
        const hook = defaultHook()
        if (hook === undefined) { reply(400, { error: 'no default webhook registered' }); return }
        reply(200, { success: true })
        const t = setTimeout(() => { timers.delete(t); if (!closed) deliver(hook, type) }, 10)
        timers.add(t)
        return
      }
      case 'POST /breach-monitoring-for-users': {
        const users = b.usersToMonitor
        if (!Array.isArray(users)) { reply(400, { error: 'usersToMonitor must be an array' }); return }
        if (users.length > MAX_BATCH) { reply(400, { error: `at most ${MAX_BATCH} users per call` }); return }
        const webhookID = typeof b.webhookID === 'string' ? b.webhookID : undefined
        if (webhookID !== undefined && hookById(webhookID) === undefined) { reply(400, { error: 'unknown webhookID' }); return }
        if (!users.every(x => typeof x === 'object' && x !== null && typeof x.usernameHash === 'string' && HASH.test(x.usernameHash))) {
          reply(400, { error: 'every entry needs a usernameHash (SHA-256 hex)' })
          return
        }
        let added = 0
        let alreadyExisted = 0
        for (const x of users as Array<{ usernameHash: string, customData?: unknown }>) {
          const hash = x.usernameHash.toLowerCase()
          if (monitored.has(hash)) { alreadyExisted++; continue }
          const entry: FakeMonitoredUser = { usernameHash: hash }
          if (typeof x.customData === 'string' && x.customData !== '') entry.customData = x.customData
          if (webhookID !== undefined) entry.webhookID = webhookID
          monitored.set(hash, entry)
          added++
        }
        reply(201, { added, alreadyExisted })
        return
      }
      case 'DELETE /breach-monitoring-for-users': {
        if (Array.isArray(b.usernameHashes)) {
          if (b.usernameHashes.length > MAX_BATCH) { reply(400, { error: `at most ${MAX_BATCH} hashes per call` }); return }
          let deleted = 0
          let notFound = 0
          for (const h of b.usernameHashes) {
            if (typeof h === 'string' && monitored.delete(h.toLowerCase())) deleted++
            else notFound++
          }
          reply(200, { deleted, notFound })
          return
        }
        // UNCONFIRMED field name: the docs say customData, the official clients send usernameCustomData.
        const customData = typeof b.customData === 'string' ? b.customData : typeof b.usernameCustomData === 'string' ? b.usernameCustomData : undefined
        if (customData === undefined || customData === '') { reply(400, { error: 'usernameHashes or customData required' }); return }
        let deleted = 0
        for (const [h, m] of monitored) if (m.customData === customData) { monitored.delete(h); deleted++ }
        reply(200, { deleted, notFound: deleted === 0 ? 1 : 0 })
        return
      }
      case 'GET /breach-monitoring-for-users': {
        if (query.usernameHash !== undefined) {
          const m = monitored.get(query.usernameHash.toLowerCase())
          if (m === undefined) reply(404, { error: 'not monitored' })
          else reply(200, extended(m))
          return
        }
        const pageSize = Math.min(Math.max(Number(query.pageSize ?? 1000) || 1000, 1), 10_000)
        let snapId: string
        let offset = 0
        if (query.pagingToken !== undefined && query.pagingToken !== '') {
          const [id, off] = query.pagingToken.split('.')
          if (id === undefined || !snapshots.has(id) || !/^\d+$/.test(off ?? '')) { reply(400, { error: 'invalid pagingToken' }); return }
          snapId = id
          offset = Number(off)
        } else {
          snapId = randomBytes(8).toString('hex')
          snapshots.set(snapId, [...monitored.values()])
        }
        const all = snapshots.get(snapId)!
        const page = all.slice(offset, offset + pageSize)
        const next = offset + pageSize < all.length ? `${snapId}.${offset + pageSize}` : undefined
        if (next === undefined) snapshots.delete(snapId)
        const withInfo = query.includeExtendedInfo === 'true'
        reply(200, {
          count: all.length,
          usernameHashes: page.map(m => withInfo ? extended(m) : m.usernameHash),
          pagingToken: next ?? null
        })
        return
      }
      case 'GET /exposure-details': {
        const e = query.id === undefined ? undefined : exposures.get(query.id)
        if (e === undefined) reply(404, { error: 'exposure not found' })
        else reply(200, e)
        return
      }
      default:
        reply(404, { error: 'not found' })
    }
  }

  const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    handle(req, res).catch(() => { if (!res.headersSent) { res.writeHead(500); res.end() } })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  const url = `http://127.0.0.1:${port}/v1`
  return {
    url,
    apiKey,
    apiSecret,
    env: { ENZOIC_API_URL: url, ENZOIC_API_KEY: apiKey, ENZOIC_API_SECRET: apiSecret },
    webhooks,
    monitored,
    exposures,
    journal,
    testDeliveries,
    setDelivery (o) { delivery = { ...o } },
    async waitForDelivery (n = 1, timeoutMs = 5000) {
      return await new Promise((resolve, reject) => {
        const check = (): void => {
          const d = testDeliveries[n - 1]
          if (d === undefined) return
          clearTimeout(t)
          waiters.delete(check)
          resolve(d)
        }
        const t = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`test delivery #${n} did not happen within ${timeoutMs} ms`))
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    },
    fail (status, o = {}) {
      faults.push({ status, remaining: o.times ?? Infinity, match: o.match, retryAfter: o.retryAfter })
    },
    setLatency (ms) { latencyMs = ms },
    clearFaults () { faults = []; latencyMs = 0 },
    async close () {
      closed = true
      for (const t of timers) clearTimeout(t)
      timers.clear()
      for (const r of outgoing) r.destroy()
      outgoing.clear()
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
