/**
 * A fake FusionAuth: a real HTTP server (node:http, 127.0.0.1, port 0) that imitates the parts of the
 * FusionAuth API the bridge uses, with FusionAuth's API-key, tenant and error semantics, plus fault
 * injection (latency, failures, hangs, revoked keys, a stopped listener) for the bridge's tests.
 *
 * Semantics imitated (see docs/fusionauth-api.md and the FusionAuth API docs):
 * - `Authorization: <key>` (no Bearer). Missing/unknown/revoked key, a key not permitted for the endpoint and
 *   method, or a tenant-bound key used with another tenant's `X-FusionAuth-TenantId` → 401, empty body.
 *   Checked before anything else (but after injected latency and faults, which stand in for the network).
 * - 404 with an empty body when not found; 400 with `{"generalErrors":[…],"fieldErrors":{"field":[…]}}`
 *   (fieldErrors is an object keyed by field; empty parts are omitted, as FusionAuth does).
 * - A path or query id that is not a UUID → 400 `[couldNotConvert]<name>` (FusionAuth's parameter conversion).
 * - Several tenants + no tenant header + a key not bound to a tenant → lookups by email/username answer 400
 *   `[TenantIdRequired]`. Lookups by id, search and token revocation need no tenant header; a tenant header (or
 *   a tenant-bound key) scopes every call to that tenant (other tenants' users are "not found").
 * - Search imitates the Elasticsearch engine by default (FusionAuth ≥ 1.48): `startRow + numberOfResults` may not
 *   pass 10,000, `total` is capped at 10,000 unless `accurateTotal`, and every search that returns users also
 *   returns a `nextResults` token; a request carrying that token (plus, optionally, `numberOfResults` — nothing
 *   else) continues after the last user of the previous page, past 10,000, until a page comes back empty.
 *   `searchEngine: 'database'` imitates the database engine instead (no window, no tokens, exact totals).
 * - What `breach-bridge check` reads to tell FusionAuth from any other server and to verify BRIDGE_ACTIONS:
 *   `GET /api/status` without a key (`{"status":"ok"}`), `GET /api/system/version` (`{"version":…}`), and
 *   `GET /api/group/{id}`, `GET /api/user-action/{id}` (404 when unknown; `[couldNotConvert]` for a non-UUID).
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { defaultEventConfiguration, FakeWebhooks, readEventConfiguration, type EmittedEvent, type FakeEventConfiguration, type FakeWebhook } from './fusionauth-webhooks.js'

export type { EmittedEvent, FakeEventConfiguration, FakeWebhook }

/** A tenant: its name, and which events it sends its webhooks (fakes/fusionauth-webhooks.ts). */
export interface FakeTenant { id: string, name: string, eventConfiguration: FakeEventConfiguration }

export interface FakeUser {
  id: string
  tenantId: string
  email: string
  username?: string
  firstName?: string
  lastName?: string
  timezone?: string
  active: boolean
  verified: boolean
  insertInstant: number
  lastUpdateInstant: number
  passwordLastUpdateInstant: number
  passwordChangeRequired: boolean
  passwordChangeReason?: string
  data?: Record<string, unknown>
  refreshTokens: Array<{ id: string, token: string, insertInstant: number, applicationId: string }>
  memberships: Array<{ id: string, groupId: string, insertInstant: number }>
  comments: Array<{ id: string, commenterId: string, comment: string, insertInstant: number }>
  actions: Array<{ id: string, userActionId: string, actionerUserId?: string, comment?: string, insertInstant: number, expiry?: number, cancelled?: boolean }>
}

/** An email FusionAuth was asked to send (POST /api/email/send/{templateId}). */
export interface SentEmail { templateId: string, userIds: string[], requestData?: Record<string, unknown>, at: number }

export interface NewFakeUser {
  tenantId: string
  email: string
  id?: string
  active?: boolean
  /** Epoch ms; defaults to one year before the user was added. */
  passwordLastUpdateInstant?: number
  /** How many refresh tokens (sessions) the user starts with; default 0. */
  refreshTokens?: number
  firstName?: string
  lastName?: string
  username?: string
  /** An IANA time zone (FusionAuth's `user.timezone`). */
  timezone?: string
}

export interface FakeUserAction { id: string, name: string, preventLogin: boolean, temporal: boolean }
export interface FakeGroup { id: string, name: string, tenantId?: string }

export interface JournalEntry {
  method: string
  path: string
  query: Record<string, string>
  /** The `X-FusionAuth-TenantId` header as sent. */
  tenantId?: string
  /** The `Authorization` header as sent. */
  apiKey?: string
  /** The final status; 0 while unanswered (in flight, or hung by `hang()`). */
  status: number
  /** With an `afterEffect` fault: the status FusionAuth's own handling gave before the fault struck. */
  effect?: number
  /** The request body: parsed JSON, or the raw text when it is not JSON. */
  body?: unknown
  at: number
}

export type FaultMatch = (method: string, path: string) => boolean
export interface FaultOptions {
  times?: number
  match?: FaultMatch
  /** `fail()` only: a Retry-After header (seconds), as FusionAuth's rate limiter and a proxy in maintenance send. */
  retryAfter?: number
  /**
   * The request reaches FusionAuth and takes effect (the user is deactivated, the email sent…), and only then
   * does the fault hit: the answer is lost (`hang`) or replaced (`fail`, e.g. a 502 from a proxy after the fact).
   */
  afterEffect?: boolean
  /** `fail()` only: the body is this HTML page (`text/html`), as a proxy, captive portal or load balancer answers. */
  html?: string
}

export interface FusionAuthFake {
  url: string
  apiKey: string
  tenants: FakeTenant[]
  addTenant (name?: string, id?: string): FakeTenant
  addUser (u: NewFakeUser): FakeUser
  /** Fast bulk add (25k–100k users). Default emails are `bulk000001@fusionauth-fake.dev`, … (unique per fake). */
  addUsers (tenantId: string, count: number, make?: (i: number) => Partial<Omit<NewFakeUser, 'tenantId'>>): void
  addGroup (id?: string, name?: string): string
  /** `preventLogin` implies `temporal` (as in FusionAuth): actioning with it then requires a future `expiry`. */
  addUserAction (opts?: { id?: string, name?: string, preventLogin?: boolean, temporal?: boolean }): string
  /** An email template (Customizations → Email Templates); returns its id. */
  addEmailTemplate (name?: string, id?: string): string
  /** Makes a user a member of a group, as an administrator would. */
  addMember (groupId: string, userId: string): void
  /**
   * The user changes their password (FusionAuth's hosted pages, or the change-password API): as FusionAuth does,
   * `passwordLastUpdateInstant` moves to `at` (default now) and a required change is satisfied —
   * `passwordChangeRequired` cleared, its reason removed.
   */
  changePassword (userId: string, at?: number): FakeUser
  /**
   * What `GET /.well-known/jwks.json` answers (the keys webhook signatures are made with: fakes/fusionauth-events.ts),
   * and how a body is signed with one of them (for the webhooks whose signature configuration names it).
   */
  publishKeys (jwks: () => unknown, sign?: (body: string, kid: string) => Promise<string>): void
  /** The webhooks (`/api/webhook`), as FusionAuth holds them. */
  webhooks (): FakeWebhook[]
  /**
   * FusionAuth sends a user event of `type` (built by fakes/fusionauth-events.ts `userEvent`) to every webhook that
   * enables it and covers the user's tenant, if the tenant enables it: with the webhook's headers and signature.
   */
  emit (type: string, user: FakeUser, extra?: Record<string, unknown>): Promise<EmittedEvent[]>
  /** Every email FusionAuth was asked to send, in order. */
  sentEmails (): SentEmail[]
  /**
   * An extra API key; `tenantId` binds it to one tenant (then no tenant header is needed); `endpoints` restricts it,
   * e.g. { '/api/user': ['GET'], '/api/jwt/refresh': ['DELETE'] } — any other endpoint/method → 401.
   */
  addApiKey (key: string, opts?: { tenantId?: string, endpoints?: Record<string, string[]> }): void
  user (id: string): FakeUser | undefined
  users (): FakeUser[]
  journal: JournalEntry[]
  /** Journal entries that (try to) change state: anything but GET and POST /api/user/search, whatever their status. */
  mutatingCalls (): JournalEntry[]
  clearJournal (): void
  setLatency (ms: number): void
  /** The next `times` (default: every) matching requests get `status` (400/503: an Errors JSON body, others: empty). */
  fail (status: number, opts?: FaultOptions): void
  /** The next `times` (default: every) matching requests are accepted and never answered (until close). */
  hang (opts?: FaultOptions): void
  clearFaults (): void
  /** That key (default: the main key) now gets 401 everywhere. */
  revokeKey (key?: string): void
  restoreKey (key?: string): void
  /** Close the listener (connections refused, open connections dropped) but keep state and the port. */
  stopListening (): Promise<void>
  /** Listen again on the same port. */
  resumeListening (): Promise<void>
  /** Stop for good; also destroys hung sockets. */
  close (): Promise<void>
}

export interface FusionAuthFakeOptions {
  /** How many tenants to create (default 1). */
  tenants?: number
  /** The main, unrestricted API key (default: a random one). */
  apiKey?: string
  latencyMs?: number
  /** Which FusionAuth search engine to imitate (default 'elasticsearch'). */
  searchEngine?: 'elasticsearch' | 'database'
  /** What `GET /api/system/version` answers (default '1.69.0'). */
  version?: string
}

/** Elasticsearch's max_result_window, which FusionAuth's user search inherits. */
export const SEARCH_WINDOW = 10_000
/** Error codes the fake answers with (the first three are FusionAuth's documented ones; the others follow its `[rule]field` convention). */
export const FAKE_ERROR_CODES = {
  tenantIdRequired: '[TenantIdRequired]',
  couldNotConvert: (field: string) => `[couldNotConvert]${field}`,
  inPast: (field: string) => `[inPast]${field}`,
  /** Not found in FusionAuth's docs: the Elasticsearch window error. */
  searchWindow: '[tooLarge]search.startRow',
  /** Not found in FusionAuth's docs: a tenant header naming no tenant. */
  tenantIdInvalid: '[TenantIdInvalid]',
  /** Not found in FusionAuth's docs: a temporal action that is already in effect on the user. */
  userAlreadyActioned: '[UserAlreadyActioned]'
} as const

const CHANGE_PASSWORD_REASONS = new Set(['Administrative', 'Breached', 'Expired', 'Validation'])
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const YEAR_MS = 365 * 24 * 3600 * 1000
/** API-key permission endpoints, longest first: a request path maps to the longest one it starts with. */
const PERMISSION_ENDPOINTS = ['/api/user/search', '/api/user/action', '/api/user/comment', '/api/user-action', '/api/group/member', '/api/email/send', '/api/email/template',
  '/api/jwt/refresh', '/api/system/version', '/api/tenant', '/api/webhook', '/api/group', '/api/user']

type Json = Record<string, unknown>
interface Reply { status: number, body?: unknown, headers?: Record<string, string> }
interface KeyRecord { key: string, tenantId?: string, endpoints?: Map<string, Set<string>>, revoked: boolean }
interface Scope { tenantId?: string }
interface Fault { kind: 'fail' | 'hang', status: number, remaining: number, match?: FaultMatch, retryAfter?: number, afterEffect?: boolean, html?: string }
type Pred = (u: FakeUser) => boolean
interface SortSpec { name: string, order: 'asc' | 'desc', missing: '_first' | '_last' }
type SortKey = Array<string | number | null>

/** Thrown inside handlers to answer with an error. */
class Answer extends Error {
  constructor (readonly reply: Reply) { super(`answer ${reply.status}`) }
}

const isUuid = (s: unknown): s is string => typeof s === 'string' && UUID_RE.test(s)
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const notFound = (): Answer => new Answer({ status: 404 })
const unauthorized: Reply = { status: 401 }

function errorsBody (general: Array<[string, string]> = [], fields: Record<string, Array<[string, string]>> = {}): Json {
  const body: Json = {}
  const fieldEntries = Object.entries(fields).filter(([, v]) => v.length > 0)
  if (fieldEntries.length > 0) {
    body.fieldErrors = Object.fromEntries(fieldEntries.map(([f, list]) => [f, list.map(([code, message]) => ({ code, message }))]))
  }
  if (general.length > 0) body.generalErrors = general.map(([code, message]) => ({ code, message }))
  return body
}
const generalError = (code: string, message: string): Answer => new Answer({ status: 400, body: errorsBody([[code, message]]) })
const fieldError = (field: string, code: string, message: string): Answer => new Answer({ status: 400, body: errorsBody([], { [field]: [[code, message]] }) })
const couldNotConvert = (field: string, value: unknown): Answer =>
  fieldError(field, FAKE_ERROR_CODES.couldNotConvert(field), `Invalid ${field} [${String(value)}]. This must be a valid UUID String (e.g. 25a872da-bb44-4af8-a43d-e7bcb5351ebc).`)

/** Collects field errors the way FusionAuth's validators do: all of them, then one 400. */
class FieldErrors {
  readonly fields: Record<string, Array<[string, string]>> = {}
  add (field: string, rule: string, message: string): void {
    (this.fields[field] ??= []).push([`[${rule}]${field}`, message])
  }

  get empty (): boolean { return Object.keys(this.fields).length === 0 }
  throwIfAny (): void { if (!this.empty) throw new Answer({ status: 400, body: errorsBody([], this.fields) }) }
}

function permissionEndpoint (path: string): string {
  for (const ep of PERMISSION_ENDPOINTS) if (path === ep || path.startsWith(ep + '/')) return ep
  return path
}

function wildcardRegExp (pattern: string, anchored = true): RegExp {
  const body = pattern.split('').map(c => c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('')
  return new RegExp(anchored ? `^${body}$` : body, 'i')
}

/** The values of a (search index) field of a user, as strings, for matching. */
function fieldValues (u: FakeUser, field: string): string[] {
  const f = field.replace(/\.keyword$/, '')
  switch (f) {
    case 'email': case 'username': case 'firstName': case 'lastName': case 'id': case 'tenantId': {
      const v = u[f]
      return v === undefined ? [] : [v]
    }
    case 'fullName': return [u.firstName, u.lastName].some(Boolean) ? [[u.firstName, u.lastName].filter(Boolean).join(' ')] : []
    case 'login': return [u.email, u.username].filter((v): v is string => v !== undefined)
    case 'active': case 'verified': case 'passwordChangeRequired': return [String(u[f])]
    case 'insertInstant': case 'lastUpdateInstant': case 'passwordLastUpdateInstant': return [String(u[f])]
    case 'memberships.groupId': return u.memberships.map(m => m.groupId)
    default: return []
  }
}
const TEXT_FIELDS = ['email', 'username', 'firstName', 'lastName', 'fullName']

function sortValue (u: FakeUser, name: string): string | number | null {
  switch (name) {
    case 'email': case 'id': case 'tenantId': return u[name]
    case 'username': return u.username ?? null
    case 'login': return u.email ?? u.username ?? null
    case 'fullName': return fieldValues(u, 'fullName')[0]?.toLowerCase() ?? null
    case 'insertInstant': return u.insertInstant
    default: return null // birthDate, lastLoginInstant, registrations.*: nothing the fake stores
  }
}
const SORTABLE = new Set(['birthDate', 'email', 'fullName', 'id', 'insertInstant', 'lastLoginInstant', 'login', 'phoneNumber', 'tenantId', 'username',
  'registrations.applicationId', 'registrations.id', 'registrations.insertInstant', 'registrations.lastLoginInstant', 'registrations.roles'])

function compareKeys (specs: SortSpec[], a: SortKey, b: SortKey): number {
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i] as SortSpec
    const va = a[i] ?? null
    const vb = b[i] ?? null
    if (va === vb) continue
    if (va === null) return s.missing === '_first' ? -1 : 1
    if (vb === null) return s.missing === '_first' ? 1 : -1
    const c = va < vb ? -1 : 1
    return s.order === 'desc' ? -c : c
  }
  const ia = a[specs.length] as string
  const ib = b[specs.length] as string
  return ia < ib ? -1 : ia > ib ? 1 : 0
}

function sleepUntil (ms: number, pending: Set<() => void>): Promise<void> {
  return new Promise(resolve => {
    const done = (): void => { clearTimeout(timer); pending.delete(done); resolve() }
    const timer = setTimeout(done, ms)
    pending.add(done)
  })
}

class FakeFusionAuth implements FusionAuthFake {
  url = ''
  apiKey: string
  tenants: FakeTenant[] = []
  journal: JournalEntry[] = []

  private readonly server: Server
  private readonly engine: 'elasticsearch' | 'database'
  private readonly productVersion: string
  private readonly applicationId = randomUUID()
  private readonly usersById = new Map<string, FakeUser>()
  private readonly emailIndex = new Map<string, Map<string, FakeUser>>() // tenantId → email → user
  private readonly groups = new Map<string, FakeGroup>()
  private readonly emailTemplates = new Map<string, string>()
  private readonly sent: SentEmail[] = []
  private readonly userActions = new Map<string, FakeUserAction>()
  private readonly keys = new Map<string, KeyRecord>()
  private readonly sockets = new Set<Socket>()
  private readonly pendingSleeps = new Set<() => void>()
  private faults: Fault[] = []
  private jwks: (() => unknown) | undefined
  private signWith: ((body: string, kid: string) => Promise<string>) | undefined
  private readonly hooks = new FakeWebhooks({
    tenant: id => this.tenants.find(t => t.id === id),
    keyIds: () => {
      const published = this.jwks?.() as { keys?: Array<{ kid?: unknown }> } | undefined
      return (published?.keys ?? []).map(k => String(k.kid).toLowerCase())
    },
    sign: (body, kid) => this.signWith?.(body, kid),
    notFound,
    badRequest: fields => new Answer({ status: 400, body: errorsBody([], fields) }),
    couldNotConvert
  })

  private latencyMs: number
  private port = 0
  private listening = false
  private closed = false
  private version = 0 // bumped on every change to users: invalidates the search cache
  private bulkSeq = 0
  private readonly searchCache = new Map<string, { version: number, list: FakeUser[], keys: SortKey[] }>()

  constructor (opts: FusionAuthFakeOptions) {
    this.apiKey = opts.apiKey ?? `fake-fa-key-${randomUUID()}`
    this.latencyMs = opts.latencyMs ?? 0
    this.engine = opts.searchEngine ?? 'elasticsearch'
    this.productVersion = opts.version ?? '1.69.0'
    this.keys.set(this.apiKey, { key: this.apiKey, revoked: false })
    const n = opts.tenants ?? 1
    for (let i = 0; i < n; i++) this.addTenant(i === 0 ? 'Default' : `Tenant ${i + 1}`)
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(err => {
        console.error('fake FusionAuth: request failed', err)
        res.destroy()
      })
    })
    this.server.keepAliveTimeout = 2000
    this.server.on('connection', socket => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
  }

  async listen (port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err)
      this.server.once('error', onError)
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', onError)
        resolve()
      })
    })
    this.port = (this.server.address() as AddressInfo).port
    this.url = `http://127.0.0.1:${this.port}`
    this.listening = true
  }

  // ── state set-up ─────────────────────────────────────────────────────────────────────────────────────────

  addTenant (name?: string, id?: string): FakeTenant {
    const tenant = { id: id ?? randomUUID(), name: name ?? `Tenant ${this.tenants.length + 1}`, eventConfiguration: defaultEventConfiguration() }
    if (this.tenants.some(t => t.id === tenant.id)) throw new Error(`fake FusionAuth: tenant ${tenant.id} exists`)
    this.tenants.push(tenant)
    this.emailIndex.set(tenant.id, new Map())
    return tenant
  }

  addUser (u: NewFakeUser): FakeUser {
    const byEmail = this.emailIndex.get(u.tenantId)
    if (byEmail === undefined) throw new Error(`fake FusionAuth: no tenant ${u.tenantId}`)
    const email = u.email.trim().toLowerCase()
    if (byEmail.has(email)) throw new Error(`fake FusionAuth: ${email} exists in tenant ${u.tenantId}`)
    const id = u.id ?? randomUUID()
    if (this.usersById.has(id)) throw new Error(`fake FusionAuth: user ${id} exists`)
    const now = Date.now()
    const user: FakeUser = {
      id,
      tenantId: u.tenantId,
      email,
      active: u.active ?? true,
      verified: true,
      insertInstant: now,
      lastUpdateInstant: now,
      passwordLastUpdateInstant: u.passwordLastUpdateInstant ?? now - YEAR_MS,
      passwordChangeRequired: false,
      refreshTokens: [],
      memberships: [],
      comments: [],
      actions: []
    }
    if (u.username !== undefined) user.username = u.username
    if (u.firstName !== undefined) user.firstName = u.firstName
    if (u.lastName !== undefined) user.lastName = u.lastName
    if (u.timezone !== undefined) user.timezone = u.timezone
    for (let i = 0; i < (u.refreshTokens ?? 0); i++) {
      user.refreshTokens.push({ id: randomUUID(), token: randomUUID().replaceAll('-', '') + randomUUID().replaceAll('-', ''), insertInstant: now, applicationId: this.applicationId })
    }
    this.usersById.set(id, user)
    byEmail.set(email, user)
    this.version++
    return user
  }

  addUsers (tenantId: string, count: number, make?: (i: number) => Partial<Omit<NewFakeUser, 'tenantId'>>): void {
    for (let i = 0; i < count; i++) {
      const extra = make?.(i) ?? {}
      const seq = ++this.bulkSeq
      this.addUser({ email: `bulk${String(seq).padStart(6, '0')}@fusionauth-fake.dev`, ...extra, tenantId })
    }
  }

  addGroup (id?: string, name?: string): string {
    const group = { id: id ?? randomUUID(), name: name ?? `Group ${this.groups.size + 1}` }
    this.groups.set(group.id, group)
    return group.id
  }

  addEmailTemplate (name = 'Template', id: string = randomUUID()): string {
    this.emailTemplates.set(id.toLowerCase(), name)
    return id.toLowerCase()
  }

  changePassword (userId: string, at = Date.now()): FakeUser {
    const u = this.usersById.get(userId)
    if (u === undefined) throw new Error(`fake FusionAuth: no user ${userId}`)
    u.passwordLastUpdateInstant = at
    u.passwordChangeRequired = false
    delete u.passwordChangeReason
    this.touch(u)
    return u
  }

  addMember (groupId: string, userId: string): void {
    const u = this.usersById.get(userId)
    if (u === undefined || !this.groups.has(groupId)) throw new Error('addMember: no such user or group')
    if (!u.memberships.some(m => m.groupId === groupId)) u.memberships.push({ id: randomUUID(), groupId, insertInstant: Date.now() })
  }

  publishKeys (jwks: () => unknown, sign?: (body: string, kid: string) => Promise<string>): void {
    this.jwks = jwks
    this.signWith = sign
  }

  webhooks (): FakeWebhook[] { return structuredClone(this.hooks.list()) }

  async emit (type: string, user: FakeUser, extra: Record<string, unknown> = {}): Promise<EmittedEvent[]> {
    return await this.hooks.emit(type, user, extra)
  }

  sentEmails (): SentEmail[] { return [...this.sent] }

  addUserAction (opts: { id?: string, name?: string, preventLogin?: boolean, temporal?: boolean } = {}): string {
    const preventLogin = opts.preventLogin ?? false
    const action = { id: opts.id ?? randomUUID(), name: opts.name ?? `Action ${this.userActions.size + 1}`, preventLogin, temporal: preventLogin || (opts.temporal ?? false) }
    this.userActions.set(action.id, action)
    return action.id
  }

  addApiKey (key: string, opts: { tenantId?: string, endpoints?: Record<string, string[]> } = {}): void {
    const rec: KeyRecord = { key, revoked: false }
    if (opts.tenantId !== undefined) rec.tenantId = opts.tenantId.toLowerCase()
    if (opts.endpoints !== undefined) {
      rec.endpoints = new Map(Object.entries(opts.endpoints).map(([ep, methods]) => [ep, new Set(methods.map(m => m.toUpperCase()))]))
    }
    this.keys.set(key, rec)
  }

  user (id: string): FakeUser | undefined { return this.usersById.get(id) }
  users (): FakeUser[] { return [...this.usersById.values()] }

  mutatingCalls (): JournalEntry[] {
    return this.journal.filter(e => e.method !== 'GET' && e.method !== 'HEAD' && !(e.method === 'POST' && e.path === '/api/user/search'))
  }

  clearJournal (): void { this.journal.length = 0 }

  // ── faults ───────────────────────────────────────────────────────────────────────────────────────────────

  setLatency (ms: number): void { this.latencyMs = ms }

  fail (status: number, opts: FaultOptions = {}): void {
    const fault: Fault = { kind: 'fail', status, remaining: opts.times ?? Infinity, afterEffect: opts.afterEffect, html: opts.html }
    if (opts.match !== undefined) fault.match = opts.match
    if (opts.retryAfter !== undefined) fault.retryAfter = opts.retryAfter
    this.faults.push(fault)
  }

  hang (opts: FaultOptions = {}): void {
    const fault: Fault = { kind: 'hang', status: 0, remaining: opts.times ?? Infinity, afterEffect: opts.afterEffect }
    if (opts.match !== undefined) fault.match = opts.match
    this.faults.push(fault)
  }

  clearFaults (): void { this.faults = [] }

  revokeKey (key: string = this.apiKey): void {
    const rec = this.keys.get(key)
    if (rec !== undefined) rec.revoked = true
  }

  restoreKey (key: string = this.apiKey): void {
    const rec = this.keys.get(key)
    if (rec !== undefined) rec.revoked = false
  }

  async stopListening (): Promise<void> {
    if (!this.listening) return
    this.listening = false
    const closed = new Promise<void>(resolve => this.server.close(() => resolve()))
    for (const s of this.sockets) s.destroy()
    await closed
  }

  async resumeListening (): Promise<void> {
    if (this.listening || this.closed) return
    await this.listen(this.port)
  }

  async close (): Promise<void> {
    this.closed = true
    for (const wake of [...this.pendingSleeps]) wake()
    await this.stopListening()
  }

  private takeFault (method: string, path: string): Fault | undefined {
    for (const f of this.faults) {
      if (f.remaining <= 0 || (f.match !== undefined && !f.match(method, path))) continue
      f.remaining--
      this.faults = this.faults.filter(x => x.remaining > 0)
      return f
    }
    return undefined
  }

  // ── HTTP ─────────────────────────────────────────────────────────────────────────────────────────────────

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake.invalid')
    const method = (req.method ?? 'GET').toUpperCase()
    const path = url.pathname.replace(/\/+$/, '') || '/'
    const entry: JournalEntry = { method, path, query: Object.fromEntries(url.searchParams), status: 0, at: Date.now() }
    const tenantHeader = req.headers['x-fusionauth-tenantid']
    if (typeof tenantHeader === 'string') entry.tenantId = tenantHeader
    if (typeof req.headers.authorization === 'string') entry.apiKey = req.headers.authorization
    this.journal.push(entry)

    let raw: string
    try {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      raw = Buffer.concat(chunks).toString('utf8')
    } catch {
      return
    }
    if (raw !== '') {
      try { entry.body = JSON.parse(raw) } catch { entry.body = raw }
    }

    if (this.latencyMs > 0) await sleepUntil(this.latencyMs, this.pendingSleeps)
    if (this.closed || res.destroyed) return

    const fault = this.takeFault(method, path)
    const routed = (): Reply => {
      try {
        return this.route(req, method, path, url.searchParams, raw, entry.body)
      } catch (err) {
        if (err instanceof Answer) return err.reply
        console.error('fake FusionAuth: handler error', err)
        return { status: 500 }
      }
    }
    // The effect happens first when the fault strikes after it (the answer is lost or replaced on the way back).
    const effect = fault?.afterEffect === true ? routed() : undefined
    if (effect !== undefined) entry.effect = effect.status
    if (fault?.kind === 'hang') return // never answered; close() destroys the socket
    let reply: Reply
    if (fault !== undefined) {
      reply = { status: fault.status }
      if (fault.retryAfter !== undefined) reply.headers = { 'retry-after': String(fault.retryAfter) }
      if (fault.html !== undefined) {
        entry.status = reply.status
        if (res.destroyed) return
        res.writeHead(reply.status, { ...reply.headers, 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(fault.html) })
        res.end(fault.html)
        return
      }
      if (fault.status === 400 || fault.status === 503) {
        reply.body = errorsBody([['[InjectedFault]', `The fake FusionAuth was told to answer ${fault.status}.`]])
      }
    } else {
      reply = routed()
    }
    entry.status = reply.status
    if (res.destroyed) return
    if (reply.body === undefined) {
      res.writeHead(reply.status, { ...reply.headers, 'content-length': '0' })
      res.end()
    } else {
      const text = JSON.stringify(reply.body)
      res.writeHead(reply.status, { ...reply.headers, 'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    }
  }

  private authorize (req: IncomingMessage, method: string, path: string): KeyRecord | undefined {
    const presented = req.headers.authorization
    const rec = typeof presented === 'string' ? this.keys.get(presented) : undefined
    if (rec === undefined || rec.revoked) return undefined
    if (rec.endpoints !== undefined && rec.endpoints.get(permissionEndpoint(path))?.has(method) !== true) return undefined
    const header = req.headers['x-fusionauth-tenantid']
    if (rec.tenantId !== undefined && typeof header === 'string' && header.toLowerCase() !== rec.tenantId) return undefined
    return rec
  }

  private scopeOf (req: IncomingMessage, key: KeyRecord): Scope {
    if (key.tenantId !== undefined) return { tenantId: key.tenantId }
    const header = req.headers['x-fusionauth-tenantid']
    if (typeof header !== 'string' || header === '') return {}
    const id = header.toLowerCase()
    if (!this.tenants.some(t => t.id === id)) {
      throw generalError(FAKE_ERROR_CODES.tenantIdInvalid, `The tenant Id [${header}] in the X-FusionAuth-TenantId header is not valid.`)
    }
    return { tenantId: id }
  }

  private route (req: IncomingMessage, method: string, path: string, q: URLSearchParams, raw: string, body: unknown): Reply {
    // The Status API answers without an API key: a health value only (FusionAuth adds version and metrics
    // for a key, which the fake does not model).
    if (method === 'GET' && path === '/api/status') return { status: 200, body: { status: 'ok' } }
    // The public keys of the signing keys (no API key needed), for webhook signatures and JWTs.
    if (method === 'GET' && path === '/.well-known/jwks.json') return { status: 200, body: this.jwks?.() ?? { keys: [] } }
    const key = this.authorize(req, method, path)
    if (key === undefined) return unauthorized
    const scope = this.scopeOf(req, key)
    if (raw !== '' && typeof body === 'string' && method !== 'GET') {
      throw generalError('[invalidJSON]', 'Unable to parse the request body as JSON.')
    }
    const seg = path.split('/').slice(1) // ['api', 'user', …]
    if (seg[0] !== 'api') throw notFound()
    const [, resource, sub] = seg
    const route = `${method} /${seg.slice(1, 3).join('/')}`

    if (resource === 'tenant' && seg.length <= 3) return this.tenantRoute(method, sub, key, body)
    if (resource === 'webhook') {
      const reply = this.hooks.route(method, sub, seg.length > 3, body)
      if (reply === undefined) throw notFound()
      return reply
    }
    if (route === 'GET /system/version' && seg.length === 3) return { status: 200, body: { version: this.productVersion } }
    if (resource === 'group' && sub !== undefined && seg.length === 3 && method === 'GET' && sub !== 'member') return this.retrieveGroup(sub, scope)
    if (resource === 'user-action' && sub !== undefined && seg.length === 3 && method === 'GET') return this.retrieveUserAction(sub)
    if (route === 'GET /email/template' && seg.length === 4) return this.retrieveEmailTemplate(seg[3]!)
    if (resource === 'user' && sub === undefined && method === 'GET') return this.retrieveByLogin(q, scope)
    switch (route) {
      case 'POST /user/search': return this.search(body, scope)
      case 'GET /user/search': return this.search({ search: this.searchFromQuery(q) }, scope)
      case 'POST /user/action': if (seg.length === 3) return this.actionUser(body, scope); break
      case 'GET /user/action': if (seg.length === 3) return this.retrieveActions(q, scope); break
      case 'GET /user/comment': if (seg.length === 4) return this.retrieveComments(seg[3]!, scope); break
      case 'POST /user/comment': if (seg.length === 3) return this.commentOnUser(body, scope); break
      case 'POST /group/member': if (seg.length === 3) return this.addMembers(body, scope); break
      case 'DELETE /group/member': if (seg.length === 3) return this.removeMembers(body, scope); break
      case 'DELETE /user/action': if (seg.length === 4) return this.cancelAction(seg[3]!, body, scope); break
      case 'POST /email/send': if (seg.length === 4) return this.sendEmail(seg[3]!, body, scope); break
      case 'GET /jwt/refresh': if (seg.length === 3) return this.retrieveRefreshTokens(q, scope); break
      case 'DELETE /jwt/refresh': if (seg.length === 3) return this.revokeRefreshTokens(q, body, scope); break
    }
    if (resource === 'user' && sub !== undefined && seg.length === 3 && !['search', 'action', 'comment'].includes(sub)) {
      if (!isUuid(sub)) throw couldNotConvert('userId', sub)
      switch (method) {
        case 'GET': return { status: 200, body: { user: this.userJson(this.scopedUser(sub, scope)) } }
        case 'DELETE': return this.deleteUser(sub, q, body, scope)
        case 'PUT': return this.updateUser(sub, q, body, scope)
        case 'PATCH': return this.patchUser(sub, body, scope)
      }
    }
    throw notFound()
  }

  /** GET /api/tenant[/{id}]; PATCH (merge) and PUT /api/tenant/{id}: the name and the event configuration. */
  private tenantRoute (method: string, id: string | undefined, key: KeyRecord, body: unknown): Reply {
    const visible = this.tenants.filter(t => key.tenantId === undefined || t.id === key.tenantId)
    const tenantJson = (t: FakeTenant): Json => ({ id: t.id, name: t.name, eventConfiguration: structuredClone(t.eventConfiguration) })
    if (id === undefined) {
      if (method === 'GET') return { status: 200, body: { tenants: visible.map(tenantJson) } }
      throw notFound()
    }
    if (!['GET', 'PATCH', 'PUT'].includes(method)) throw notFound()
    const t = isUuid(id) ? visible.find(x => x.id === id.toLowerCase()) : undefined
    if (t === undefined) throw notFound()
    if (method === 'GET') return { status: 200, body: { tenant: tenantJson(t) } }
    const given = isObject(body) ? body.tenant : undefined
    if (!isObject(given)) throw fieldError('tenant', '[missing]tenant', 'Your request is missing the Tenant information as JSON in the entity-body.')
    const replace = method === 'PUT'
    const name = given.name ?? (replace ? undefined : t.name)
    if (typeof name !== 'string' || name.trim() === '') throw fieldError('tenant.name', '[blank]tenant.name', 'You must specify the [tenant.name] property.')
    const eventConfiguration = readEventConfiguration(given.eventConfiguration, replace ? undefined : t.eventConfiguration, {
      badRequest: fields => new Answer({ status: 400, body: errorsBody([], fields) })
    })
    t.name = name
    t.eventConfiguration = eventConfiguration
    return { status: 200, body: { tenant: tenantJson(t) } }
  }

  private retrieveGroup (id: string, scope: Scope): Reply {
    if (!isUuid(id)) throw couldNotConvert('groupId', id)
    const g = this.groups.get(id.toLowerCase())
    const tenantId = g?.tenantId ?? this.tenants[0]?.id
    if (g === undefined || (scope.tenantId !== undefined && tenantId !== scope.tenantId)) throw notFound()
    const json: Json = { id: g.id, name: g.name, roles: [] }
    if (tenantId !== undefined) json.tenantId = tenantId
    return { status: 200, body: { group: json } }
  }

  private retrieveEmailTemplate (id: string): Reply {
    if (!isUuid(id)) throw couldNotConvert('emailTemplateId', id)
    const name = this.emailTemplates.get(id.toLowerCase())
    if (name === undefined) throw notFound()
    return { status: 200, body: { emailTemplate: { id: id.toLowerCase(), name, defaultFromName: 'FusionAuth', defaultSubject: name, defaultHtmlTemplate: '', defaultTextTemplate: '' } } }
  }

  private retrieveUserAction (id: string): Reply {
    if (!isUuid(id)) throw couldNotConvert('userActionId', id)
    const a = this.userActions.get(id.toLowerCase())
    if (a === undefined) throw notFound()
    return {
      status: 200,
      body: {
        userAction: {
          id: a.id,
          name: a.name,
          active: true,
          preventLogin: a.preventLogin,
          temporal: a.temporal,
          includeEmailInEventJSON: false,
          sendEndEvent: false,
          userEmailingEnabled: false,
          userNotificationsEnabled: false
        }
      }
    }
  }

  private scopedUser (id: string, scope: Scope): FakeUser {
    const u = this.findUser(id, scope)
    if (u === undefined) throw notFound()
    return u
  }

  private findUser (id: unknown, scope: Scope): FakeUser | undefined {
    if (typeof id !== 'string') return undefined
    const u = this.usersById.get(id.toLowerCase())
    if (u === undefined || (scope.tenantId !== undefined && u.tenantId !== scope.tenantId)) return undefined
    return u
  }

  private userJson (u: FakeUser): Json {
    const j: Json = { id: u.id, tenantId: u.tenantId, email: u.email }
    if (u.username !== undefined) j.username = u.username
    if (u.firstName !== undefined) j.firstName = u.firstName
    if (u.lastName !== undefined) j.lastName = u.lastName
    if (u.timezone !== undefined) j.timezone = u.timezone
    Object.assign(j, {
      active: u.active,
      verified: u.verified,
      insertInstant: u.insertInstant,
      lastUpdateInstant: u.lastUpdateInstant,
      passwordLastUpdateInstant: u.passwordLastUpdateInstant,
      passwordChangeRequired: u.passwordChangeRequired
    })
    if (u.passwordChangeReason !== undefined) j.passwordChangeReason = u.passwordChangeReason
    if (u.data !== undefined) j.data = u.data
    if (u.memberships.length > 0) j.memberships = u.memberships.map(m => this.memberJson(u, m))
    return j
  }

  private memberJson (u: FakeUser, m: FakeUser['memberships'][number]): Json {
    return { id: m.id, groupId: m.groupId, userId: u.id, insertInstant: m.insertInstant }
  }

  private touch (u: FakeUser): void {
    u.lastUpdateInstant = Date.now()
    this.version++
  }

  // ── users ────────────────────────────────────────────────────────────────────────────────────────────────

  private retrieveByLogin (q: URLSearchParams, scope: Scope): Reply {
    const email = q.get('email')
    const username = q.get('username')
    const loginId = q.get('loginId')
    if (email === null && username === null && loginId === null) throw fieldError('email', '[missing]email', 'You must specify an email, username, loginId or another way to identify the user.')
    if (scope.tenantId === undefined && this.tenants.length > 1) {
      throw generalError(FAKE_ERROR_CODES.tenantIdRequired, 'A Tenant Id is required to complete this request. To complete this request, you may assign a Tenant to your API key, or add the X-FusionAuth-TenantId HTTP request header with the Tenant Id.')
    }
    const tenantIds = scope.tenantId !== undefined ? [scope.tenantId] : this.tenants.map(t => t.id)
    for (const tid of tenantIds) {
      let found: FakeUser | undefined
      const byEmail = this.emailIndex.get(tid)
      if (email !== null || loginId !== null) found = byEmail?.get((email ?? loginId ?? '').toLowerCase())
      if (found === undefined && (username !== null || loginId !== null)) {
        const wanted = (username ?? loginId ?? '').toLowerCase()
        found = [...(byEmail?.values() ?? [])].find(u => u.username?.toLowerCase() === wanted)
      }
      if (found !== undefined) return { status: 200, body: { user: this.userJson(found) } }
    }
    throw notFound()
  }

  private deleteUser (id: string, q: URLSearchParams, body: unknown, scope: Scope): Reply {
    const u = this.scopedUser(id, scope)
    // Only `hardDelete=true` (query) or {"hardDelete": true} (body) deletes for real; anything else deactivates.
    const hard = q.get('hardDelete') === 'true' || (isObject(body) && body.hardDelete === true)
    if (hard) {
      this.usersById.delete(u.id)
      this.emailIndex.get(u.tenantId)?.delete(u.email)
      this.version++
    } else {
      u.active = false
      this.touch(u)
    }
    return { status: 200 }
  }

  private updateUser (id: string, q: URLSearchParams, body: unknown, scope: Scope): Reply {
    const u = this.scopedUser(id, scope)
    if (q.get('reactivate') === 'true') {
      u.active = true
      this.touch(u)
      return { status: 200, body: { user: this.userJson(u) } }
    }
    if (!isObject(body) || !isObject(body.user)) throw fieldError('user', '[missing]user', 'Your request is missing the User information as JSON in the entity-body.')
    // A full update: the fields the fake knows are replaced (absent ones cleared), identity and state kept.
    const patch: Json = { firstName: null, lastName: null, username: null, passwordChangeRequired: false, passwordChangeReason: null, data: null, ...body.user }
    if (typeof patch.email !== 'string') throw fieldError('user.email', '[blank]user.email', 'You must specify either the [user.email] or [user.username] property.')
    this.applyUserPatch(u, patch, false)
    return { status: 200, body: { user: this.userJson(u) } }
  }

  private patchUser (id: string, body: unknown, scope: Scope): Reply {
    const u = this.scopedUser(id, scope)
    if (!isObject(body) || !isObject(body.user)) throw fieldError('user', '[missing]user', 'Your request is missing the User information as JSON in the entity-body.')
    this.applyUserPatch(u, body.user, true)
    return { status: 200, body: { user: this.userJson(u) } }
  }

  /** JSON merge-patch semantics (`null` removes) for the user fields the fake models. */
  private applyUserPatch (u: FakeUser, p: Json, merge: boolean): void {
    const errs = new FieldErrors()
    const str = (k: 'firstName' | 'lastName' | 'username' | 'email'): string | null | undefined => {
      const v = p[k]
      if (v === undefined || v === null || typeof v === 'string') return v
      errs.add(`user.${k}`, 'couldNotConvert', `Invalid user.${k} [${JSON.stringify(v)}].`)
      return undefined
    }
    const firstName = str('firstName')
    const lastName = str('lastName')
    const username = str('username')
    const email = str('email')
    const pcr = p.passwordChangeRequired
    if (pcr !== undefined && pcr !== null && typeof pcr !== 'boolean') errs.add('user.passwordChangeRequired', 'couldNotConvert', `Invalid user.passwordChangeRequired [${JSON.stringify(pcr)}].`)
    const reason = p.passwordChangeReason
    if (reason !== undefined && reason !== null && !(typeof reason === 'string' && CHANGE_PASSWORD_REASONS.has(reason))) {
      errs.add('user.passwordChangeReason', 'couldNotConvert', `Invalid user.passwordChangeReason [${JSON.stringify(reason)}]. Possible values are [${[...CHANGE_PASSWORD_REASONS].join(', ')}].`)
    }
    if (p.data !== undefined && p.data !== null && !isObject(p.data)) errs.add('user.data', 'couldNotConvert', 'Invalid user.data.')
    let newEmail: string | undefined
    if (email === null) errs.add('user.email', 'blank', 'You must specify either the [user.email] or [user.username] property.')
    else if (typeof email === 'string') {
      newEmail = email.trim().toLowerCase()
      if (!/^[^@\s]+@[^@\s]+$/.test(newEmail)) errs.add('user.email', 'notEmail', 'The [user.email] property is not a valid email address.')
      else if (newEmail !== u.email && this.emailIndex.get(u.tenantId)?.has(newEmail) === true) errs.add('user.email', 'duplicate', 'A User with email already exists.')
    }
    errs.throwIfAny()

    const set = (k: 'firstName' | 'lastName' | 'username', v: string | null | undefined): void => {
      if (v === null) delete u[k]
      else if (v !== undefined) u[k] = v
    }
    set('firstName', firstName)
    set('lastName', lastName)
    set('username', username)
    if (newEmail !== undefined && newEmail !== u.email) {
      const idx = this.emailIndex.get(u.tenantId)
      idx?.delete(u.email)
      idx?.set(newEmail, u)
      u.email = newEmail
    }
    if (p.data === null) delete u.data
    else if (isObject(p.data)) u.data = merge ? { ...(u.data ?? {}), ...p.data } : { ...p.data }
    if (typeof pcr === 'boolean' || pcr === null) u.passwordChangeRequired = pcr === true
    if (typeof reason === 'string') u.passwordChangeReason = reason
    else if (reason === null) delete u.passwordChangeReason
    // FusionAuth keeps a reason only while a change is required, and defaults it to Administrative.
    if (!u.passwordChangeRequired) delete u.passwordChangeReason
    else u.passwordChangeReason ??= 'Administrative'
    this.touch(u)
  }

  // ── search ───────────────────────────────────────────────────────────────────────────────────────────────

  private searchFromQuery (q: URLSearchParams): Json {
    const s: Json = {}
    for (const k of ['queryString', 'query', 'nextResults']) if (q.has(k)) s[k] = q.get(k)
    for (const k of ['numberOfResults', 'startRow']) if (q.has(k)) s[k] = Number(q.get(k))
    if (q.has('accurateTotal')) s.accurateTotal = q.get('accurateTotal') === 'true'
    if (q.has('ids')) s.ids = q.getAll('ids')
    const sortFields: Json[] = []
    for (let i = 0; q.has(`sortFields[${i}].name`); i++) {
      sortFields.push({ name: q.get(`sortFields[${i}].name`), order: q.get(`sortFields[${i}].order`) ?? undefined, missing: q.get(`sortFields[${i}].missing`) ?? undefined })
    }
    if (sortFields.length > 0) s.sortFields = sortFields
    return s
  }

  private search (body: unknown, scope: Scope): Reply {
    const s = isObject(body) ? body.search : undefined
    if (!isObject(s)) throw fieldError('search', '[missing]search', 'Your request is missing the search criteria as JSON in the entity-body.')
    const es = this.engine === 'elasticsearch'
    const errs = new FieldErrors()
    const int = (k: string, dflt: number): number => {
      const v = s[k]
      if (v === undefined || v === null) return dflt
      if (typeof v !== 'number' || !Number.isInteger(v)) { errs.add(`search.${k}`, 'couldNotConvert', `Invalid search.${k} [${JSON.stringify(v)}].`); return dflt }
      if (v < 0) errs.add(`search.${k}`, 'invalid', `The search.${k} may not be negative.`)
      return v
    }
    const numberOfResults = int('numberOfResults', 25)
    const startRow = int('startRow', 0)
    errs.throwIfAny()

    if (Array.isArray(s.ids) && s.ids.length > 0) {
      const users = s.ids.map(id => this.findUser(id, scope)).filter((u): u is FakeUser => u !== undefined)
      return { status: 200, body: { total: users.length, users: users.map(u => this.userJson(u)), expandable: [] } }
    }

    let queryString = typeof s.queryString === 'string' ? s.queryString : undefined
    let query = typeof s.query === 'string' ? s.query : undefined
    let sortSpecs: SortSpec[]
    let accurateTotal = s.accurateTotal === true
    let after: SortKey | undefined

    if (s.nextResults !== undefined && s.nextResults !== null) {
      if (!es) throw fieldError('search.nextResults', '[notSupported]search.nextResults', 'The nextResults parameter is only supported by the Elasticsearch search engine.')
      const conflicting = ['queryString', 'query', 'ids', 'sortFields'].filter(k => s[k] !== undefined && s[k] !== null)
      if (conflicting.length > 0 || startRow !== 0) {
        throw fieldError('search.nextResults', '[invalid]search.nextResults', `The nextResults parameter cannot be combined with ${[...conflicting, ...(startRow !== 0 ? ['startRow'] : [])].join(', ')}; only numberOfResults may be supplied with it.`)
      }
      const token = decodeToken(s.nextResults)
      if (token === undefined) throw fieldError('search.nextResults', '[invalid]search.nextResults', 'The nextResults token is invalid.')
      queryString = token.qs
      query = token.q
      sortSpecs = token.sf
      accurateTotal = token.at
      after = token.ls
    } else {
      if ((queryString === undefined || queryString.trim() === '') && query === undefined) {
        throw fieldError('search.queryString', '[blank]search.queryString', 'You must specify the search.ids, search.queryString' + (es ? ', search.query or search.nextResults.' : '.'))
      }
      sortSpecs = this.sortSpecs(s.sortFields)
    }
    if (es && startRow + numberOfResults > SEARCH_WINDOW) {
      throw fieldError('search.startRow', FAKE_ERROR_CODES.searchWindow, `The sum of search.startRow [${startRow}] and search.numberOfResults [${numberOfResults}] may not exceed ${SEARCH_WINDOW}. Use the nextResults token to page past ${SEARCH_WINDOW} results.`)
    }

    const { list, keys } = this.matching(queryString, query, scope, sortSpecs)
    let start = startRow
    if (after !== undefined) {
      let lo = 0
      let hi = list.length
      while (lo < hi) { // first index whose key sorts after `after`
        const mid = (lo + hi) >> 1
        if (compareKeys(sortSpecs, keys[mid] as SortKey, after) <= 0) lo = mid + 1
        else hi = mid
      }
      start = lo
    }
    const page = list.slice(start, start + numberOfResults)
    const total = es && !accurateTotal ? Math.min(list.length, SEARCH_WINDOW) : list.length
    const result: Json = { total, users: page.map(u => this.userJson(u)), expandable: [] }
    if (es && page.length > 0) {
      const last = keys[start + page.length - 1] as SortKey
      result.nextResults = encodeToken({ ls: last, qs: queryString, q: query, sf: sortSpecs, at: accurateTotal })
    }
    return { status: 200, body: result }
  }

  private sortSpecs (raw: unknown): SortSpec[] {
    if (raw === undefined || raw === null) return [{ name: 'email', order: 'asc', missing: '_last' }]
    if (!Array.isArray(raw)) throw fieldError('search.sortFields', '[couldNotConvert]search.sortFields', 'Invalid search.sortFields.')
    return raw.map((f, i): SortSpec => {
      const name = isObject(f) ? f.name : undefined
      if (typeof name !== 'string' || !SORTABLE.has(name)) throw fieldError(`search.sortFields[${i}].name`, `[invalid]search.sortFields[${i}].name`, `The sort field [${String(name)}] is not supported.`)
      const order = isObject(f) && f.order === 'desc' ? 'desc' : 'asc'
      const missing = isObject(f) && f.missing === '_first' ? '_first' : '_last'
      return { name, order, missing }
    })
  }

  /** Users matching a query within a scope, sorted; cached until the users change (paging 25k users stays fast). */
  private matching (queryString: string | undefined, query: string | undefined, scope: Scope, specs: SortSpec[]): { list: FakeUser[], keys: SortKey[] } {
    const cacheKey = JSON.stringify([queryString, query, scope.tenantId, specs])
    const hit = this.searchCache.get(cacheKey)
    if (hit !== undefined && hit.version === this.version) return hit
    const pred = query !== undefined ? this.compileRawQuery(query) : this.compileQueryString(queryString ?? '*')
    const rows: Array<{ u: FakeUser, k: SortKey }> = []
    for (const u of this.usersById.values()) {
      if (scope.tenantId !== undefined && u.tenantId !== scope.tenantId) continue
      if (pred(u)) rows.push({ u, k: [...specs.map(s => sortValue(u, s.name)), u.id] })
    }
    rows.sort((a, b) => compareKeys(specs, a.k, b.k))
    const entry = { version: this.version, list: rows.map(r => r.u), keys: rows.map(r => r.k) }
    if (this.searchCache.size > 32) this.searchCache.clear()
    this.searchCache.set(cacheKey, entry)
    return entry
  }

  private compileQueryString (raw: string): Pred {
    const qs = raw.trim()
    if (qs === '*' || qs === '') return () => true
    if (this.engine === 'database') {
      // Database engine: one case-insensitive term, `*` wildcards, matched against whole field values.
      const re = wildcardRegExp(qs)
      return u => TEXT_FIELDS.some(f => fieldValues(u, f).some(v => re.test(v)))
    }
    // Elasticsearch engine: FusionAuth passes `field:value` as is, prefixes a lone email with `email:`, and wraps
    // other single terms in `*…*`. The fake understands single clauses joined by AND / OR (no parentheses).
    const unwrapped = qs.replace(/^\((.*)\)$/, '$1')
    if (/\s(OR|AND)\s/.test(unwrapped)) {
      const ors = unwrapped.split(/\s+OR\s+/).map(part => part.split(/\s+AND\s+/).map(c => this.clause(c)))
      return u => ors.some(ands => ands.every(p => p(u)))
    }
    return this.clause(unwrapped)
  }

  private clause (raw: string): Pred {
    const c = raw.trim().replace(/^\((.*)\)$/, '$1')
    const colon = c.indexOf(':')
    if (colon > 0) {
      const field = c.slice(0, colon)
      const value = c.slice(colon + 1).replace(/^"(.*)"$/, '$1').replace(/\\(.)/g, '$1')
      const re = wildcardRegExp(value)
      return u => fieldValues(u, field).some(v => re.test(v))
    }
    if (c.includes('@') && !/\s/.test(c)) {
      const re = wildcardRegExp(c)
      return u => re.test(u.email)
    }
    const terms = c.split(/\s+/).map(t => wildcardRegExp(`*${t}*`))
    return u => terms.some(re => TEXT_FIELDS.some(f => fieldValues(u, f).some(v => re.test(v))))
  }

  /** A small subset of the Elasticsearch query DSL (`search.query`); anything else is a 400 naming the construct. */
  private compileRawQuery (raw: string): Pred {
    if (this.engine === 'database') throw fieldError('search.query', '[notSupported]search.query', 'The search.query parameter requires the Elasticsearch search engine.')
    let parsed: unknown
    try { parsed = JSON.parse(raw) } catch { throw fieldError('search.query', '[invalid]search.query', 'The search.query is not valid JSON.') }
    const unsupported = (what: string): Answer => fieldError('search.query', '[invalid]search.query', `The fake FusionAuth does not understand the query construct [${what}].`)
    const fieldAndValue = (spec: unknown, valueKeys: string[]): [string, unknown] => {
      if (!isObject(spec)) throw unsupported(JSON.stringify(spec))
      const [field, v] = Object.entries(spec)[0] ?? []
      if (field === undefined) throw unsupported('{}')
      if (isObject(v)) {
        const k = valueKeys.find(x => x in v)
        if (k === undefined) throw unsupported(JSON.stringify(v))
        return [field, v[k]]
      }
      return [field, v]
    }
    const eq = (field: string, value: unknown): Pred => {
      const want = String(value).toLowerCase()
      return u => fieldValues(u, field).some(v => v.toLowerCase() === want)
    }
    const compile = (node: unknown): Pred => {
      if (!isObject(node)) throw unsupported(JSON.stringify(node))
      const [kind, spec] = Object.entries(node)[0] ?? []
      switch (kind) {
        case 'match_all': return () => true
        case 'match_none': return () => false
        case 'term': case 'match': case 'match_phrase': {
          const [f, v] = fieldAndValue(spec, ['value', 'query'])
          return eq(f, v)
        }
        case 'terms': {
          if (!isObject(spec)) throw unsupported('terms')
          const [f, vs] = Object.entries(spec)[0] ?? []
          if (f === undefined || !Array.isArray(vs)) throw unsupported('terms')
          const preds = vs.map(v => eq(f, v))
          return u => preds.some(p => p(u))
        }
        case 'wildcard': case 'prefix': {
          const [f, v] = fieldAndValue(spec, ['value', 'wildcard'])
          const re = wildcardRegExp(kind === 'prefix' ? `${String(v)}*` : String(v))
          return u => fieldValues(u, f).some(x => re.test(x))
        }
        case 'exists': {
          const f = isObject(spec) ? spec.field : undefined
          if (typeof f !== 'string') throw unsupported('exists')
          return u => fieldValues(u, f).length > 0
        }
        case 'range': {
          if (!isObject(spec)) throw unsupported('range')
          const [f, bounds] = Object.entries(spec)[0] ?? []
          if (f === undefined || !isObject(bounds)) throw unsupported('range')
          return u => fieldValues(u, f).some(v => {
            const n = Number(v)
            return (bounds.gte === undefined || n >= Number(bounds.gte)) && (bounds.gt === undefined || n > Number(bounds.gt)) &&
              (bounds.lte === undefined || n <= Number(bounds.lte)) && (bounds.lt === undefined || n < Number(bounds.lt))
          })
        }
        case 'query_string': {
          const qs = isObject(spec) ? spec.query : undefined
          if (typeof qs !== 'string') throw unsupported('query_string')
          return this.compileQueryString(qs)
        }
        case 'nested': {
          if (!isObject(spec)) throw unsupported('nested')
          return compile(spec.query)
        }
        case 'bool': {
          if (!isObject(spec)) throw unsupported('bool')
          const list = (k: string): Pred[] => {
            const v = spec[k]
            return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(compile)
          }
          const must = [...list('must'), ...list('filter')]
          const should = list('should')
          const mustNot = list('must_not')
          const needShould = should.length > 0 && (must.length === 0 || spec.minimum_should_match !== undefined)
          return u => must.every(p => p(u)) && mustNot.every(p => !p(u)) && (!needShould || should.some(p => p(u)))
        }
        default: throw unsupported(String(kind))
      }
    }
    return compile(parsed)
  }

  // ── refresh tokens ───────────────────────────────────────────────────────────────────────────────────────

  private retrieveRefreshTokens (q: URLSearchParams, scope: Scope): Reply {
    const userId = q.get('userId')
    if (userId === null) throw fieldError('userId', '[missing]userId', 'You must specify the userId.')
    if (!isUuid(userId)) throw couldNotConvert('userId', userId)
    const u = this.findUser(userId, scope)
    const tokens = u === undefined ? [] : u.refreshTokens.map(t => this.tokenJson(u, t))
    return { status: 200, body: { refreshTokens: tokens } }
  }

  private tokenJson (u: FakeUser, t: FakeUser['refreshTokens'][number]): Json {
    const { id, token, applicationId, insertInstant } = t
    return { id, token, userId: u.id, applicationId, tenantId: u.tenantId, insertInstant, startInstant: insertInstant }
  }

  private revokeRefreshTokens (q: URLSearchParams, body: unknown, scope: Scope): Reply {
    const b = isObject(body) ? body : {}
    const userId = q.get('userId') ?? (typeof b.userId === 'string' ? b.userId : null)
    const applicationId = q.get('applicationId') ?? (typeof b.applicationId === 'string' ? b.applicationId : null)
    const token = q.get('token') ?? (typeof b.token === 'string' ? b.token : null)
    if (userId !== null) {
      if (!isUuid(userId)) throw couldNotConvert('userId', userId)
      if (applicationId !== null && !isUuid(applicationId)) throw couldNotConvert('applicationId', applicationId)
      const u = this.scopedUser(userId, scope)
      u.refreshTokens = applicationId === null ? [] : u.refreshTokens.filter(t => t.applicationId !== applicationId)
      this.touch(u)
      return { status: 200 }
    }
    if (token !== null) {
      for (const u of this.usersById.values()) {
        if (scope.tenantId !== undefined && u.tenantId !== scope.tenantId) continue
        const i = u.refreshTokens.findIndex(t => t.token === token)
        if (i >= 0) {
          u.refreshTokens.splice(i, 1)
          this.touch(u)
          return { status: 200 }
        }
      }
      throw notFound()
    }
    if (applicationId !== null) {
      if (!isUuid(applicationId)) throw couldNotConvert('applicationId', applicationId)
      for (const u of this.usersById.values()) {
        if (scope.tenantId !== undefined && u.tenantId !== scope.tenantId) continue
        u.refreshTokens = u.refreshTokens.filter(t => t.applicationId !== applicationId)
      }
      this.version++
      return { status: 200 }
    }
    throw fieldError('userId', '[missing]userId', 'You must specify a userId, applicationId or token.')
  }

  // ── actions, comments, groups ────────────────────────────────────────────────────────────────────────────

  private actionUser (body: unknown, scope: Scope): Reply {
    const a = isObject(body) ? body.action : undefined
    if (!isObject(a)) throw fieldError('action', '[missing]action', 'Your request is missing the action information as JSON in the entity-body.')
    // Mirrors FusionAuth's ActionService.validate: every problem is reported at once.
    const errs = new FieldErrors()
    const uuidField = (k: 'actioneeUserId' | 'actionerUserId' | 'userActionId'): string | undefined => {
      const v = a[k]
      if (v === undefined || v === null || v === '') { errs.add(`action.${k}`, 'missing', `You must specify the action.${k}.`); return undefined }
      if (!isUuid(v)) { errs.add(`action.${k}`, 'couldNotConvert', `Invalid action.${k} [${String(v)}]. This must be a valid UUID String.`); return undefined }
      return v.toLowerCase()
    }
    const userActionId = uuidField('userActionId')
    const actionerId = uuidField('actionerUserId')
    const actioneeId = uuidField('actioneeUserId')
    const actioner = actionerId !== undefined ? this.findUser(actionerId, scope) : undefined
    const actionee = actioneeId !== undefined ? this.findUser(actioneeId, scope) : undefined
    if (actionerId !== undefined && actioner === undefined) errs.add('action.actionerUserId', 'invalid', `The action.actionerUserId [${actionerId}] is not a valid user.`)
    if (actioneeId !== undefined && actionee === undefined) errs.add('action.actioneeUserId', 'invalid', `The action.actioneeUserId [${actioneeId}] is not a valid user.`)
    const ua = userActionId !== undefined ? this.userActions.get(userActionId) : undefined
    if (userActionId !== undefined && ua === undefined) errs.add('action.userActionId', 'invalid', `The action.userActionId [${userActionId}] is not a valid user action.`)
    const expiry = a.expiry
    if (expiry !== undefined && expiry !== null && (typeof expiry !== 'number' || !Number.isInteger(expiry))) {
      errs.add('action.expiry', 'couldNotConvert', `Invalid action.expiry [${JSON.stringify(expiry)}].`)
    } else if (ua !== undefined) {
      if (ua.temporal && (expiry === undefined || expiry === null)) errs.add('action.expiry', 'missing', 'The user action is time based (temporal): you must specify the action.expiry.')
      if (ua.temporal && typeof expiry === 'number' && expiry <= Date.now()) errs.add('action.expiry', 'inPast', 'The action.expiry is in the past.')
      if (!ua.temporal && typeof expiry === 'number') errs.add('action.expiry', 'notAllowed', 'The user action is not time based: action.expiry is not allowed.')
    }
    if (a.comment !== undefined && a.comment !== null && typeof a.comment !== 'string') errs.add('action.comment', 'couldNotConvert', 'Invalid action.comment.')
    errs.throwIfAny()
    const user = actionee as FakeUser
    const action = ua as FakeUserAction
    const now = Date.now()
    if (action.temporal && user.actions.some(l => l.userActionId === action.id && l.cancelled !== true && (l.expiry ?? 0) > now)) {
      throw generalError(FAKE_ERROR_CODES.userAlreadyActioned, `The user is already actioned with [${action.name}] and that action has not ended.`)
    }
    const log: FakeUser['actions'][number] = { id: randomUUID(), userActionId: action.id, actionerUserId: (actioner as FakeUser).id, insertInstant: now }
    if (typeof a.comment === 'string') log.comment = a.comment
    if (typeof expiry === 'number') log.expiry = expiry
    user.actions.push(log)
    this.touch(user)
    return { status: 200, body: { action: this.actionJson(user, log, action.name) } }
  }

  /** A user's action log entry as FusionAuth answers it (UserActionLog). */
  private actionJson (user: FakeUser, log: FakeUser['actions'][number], name: string): Json {
    const json: Json = {
      id: log.id,
      actioneeUserId: user.id,
      actionerUserId: log.actionerUserId,
      userActionId: log.userActionId,
      name,
      localizedName: name,
      applicationIds: [],
      emailUserOnEnd: false,
      notifyUserOnEnd: false,
      insertInstant: log.insertInstant
    }
    if (log.comment !== undefined) json.comment = log.comment
    if (log.expiry !== undefined) {
      json.expiry = log.expiry
      json.endEventSent = false
    }
    return json
  }

  /** GET /api/user/action?userId=…[&active=true]: the user's actions (with active=true, only those in effect). */
  private retrieveActions (q: URLSearchParams, scope: Scope): Reply {
    const userId = q.get('userId')
    if (userId === null) throw fieldError('userId', '[missing]userId', 'You must specify the userId.')
    if (!isUuid(userId)) throw couldNotConvert('userId', userId)
    const u = this.scopedUser(userId, scope)
    const live = (l: FakeUser['actions'][number]): boolean => l.cancelled !== true && (l.expiry === undefined || l.expiry > Date.now())
    const logs = u.actions.filter(l => q.get('active') !== 'true' || live(l))
    return { status: 200, body: { actions: logs.map(l => this.actionJson(u, l, this.userActions.get(l.userActionId)?.name ?? '')) } }
  }

  /** GET /api/user/comment/{userId}: the comments on a user. */
  private retrieveComments (userId: string, scope: Scope): Reply {
    if (!isUuid(userId)) throw couldNotConvert('userId', userId)
    const u = this.scopedUser(userId, scope)
    const userComments = u.comments.map(c => ({ id: c.id, userId: u.id, commenterId: c.commenterId, comment: c.comment, insertInstant: c.insertInstant }))
    return { status: 200, body: { userComments } }
  }

  /** DELETE /api/user/action/{actionId}: cancels an action in effect (FusionAuth keeps its log, ended). */
  private cancelAction (actionId: string, body: unknown, scope: Scope): Reply {
    if (!isUuid(actionId)) throw couldNotConvert('actionId', actionId)
    const a = isObject(body) ? body.action : undefined
    if (!isObject(a) || !isUuid(a.actionerUserId)) throw fieldError('action.actionerUserId', '[missing]action.actionerUserId', 'You must specify the action.actionerUserId.')
    const id = actionId.toLowerCase()
    for (const u of this.usersById.values()) {
      const log = u.actions.find(l => l.id === id)
      if (log === undefined || (scope.tenantId !== undefined && u.tenantId !== scope.tenantId)) continue
      const ua = this.userActions.get(log.userActionId)
      if (log.cancelled === true || ua === undefined) throw generalError('[ActionNotActive]', 'The action is no longer in effect.')
      log.cancelled = true
      this.touch(u)
      const json = this.actionJson(u, log, ua.name)
      if (log.comment !== undefined) json.comment = log.comment
      if (log.expiry !== undefined) { json.expiry = log.expiry; json.endEventSent = false }
      return { status: 200, body: { action: json } }
    }
    throw notFound()
  }

  /** DELETE /api/group/member with `members: { groupId: [userId] }` (or `memberIds`). */
  private removeMembers (body: unknown, scope: Scope): Reply {
    const b = isObject(body) ? body : {}
    const members = isObject(b.members) ? b.members : undefined
    const memberIds = Array.isArray(b.memberIds) ? b.memberIds : undefined
    if (members === undefined && memberIds === undefined) throw fieldError('members', '[missing]members', 'You must specify either the memberIds or the members to delete.')
    for (const [groupId, list] of Object.entries(members ?? {})) {
      for (const userId of Array.isArray(list) ? list : []) {
        const u = this.findUser(userId, scope)
        if (u === undefined) continue
        const before = u.memberships.length
        u.memberships = u.memberships.filter(m => m.groupId !== String(groupId).toLowerCase())
        if (u.memberships.length !== before) this.touch(u)
      }
    }
    for (const id of memberIds ?? []) {
      for (const u of this.usersById.values()) u.memberships = u.memberships.filter(m => m.id !== id)
    }
    return { status: 200 }
  }

  /** POST /api/email/send/{emailTemplateId}: queues the template for each user. */
  private sendEmail (templateId: string, body: unknown, scope: Scope): Reply {
    if (!isUuid(templateId)) throw couldNotConvert('emailTemplateId', templateId)
    if (!this.emailTemplates.has(templateId.toLowerCase())) throw notFound()
    const b = isObject(body) ? body : {}
    const userIds = Array.isArray(b.userIds) ? b.userIds.map(String) : []
    if (userIds.length === 0 && !Array.isArray(b.toAddresses)) throw fieldError('userIds', '[missing]userIds', 'You must specify at least one userId or toAddress.')
    for (const id of userIds) if (this.findUser(id, scope) === undefined) throw fieldError('userIds', '[invalid]userIds', `The user [${id}] does not exist.`)
    const sent: SentEmail = { templateId: templateId.toLowerCase(), userIds: userIds.map(x => x.toLowerCase()), at: Date.now() }
    if (isObject(b.requestData)) sent.requestData = structuredClone(b.requestData)
    this.sent.push(sent)
    return { status: 200, body: { anonymousResults: {}, results: {} } }
  }

  private commentOnUser (body: unknown, scope: Scope): Reply {
    const c = isObject(body) ? body.userComment : undefined
    if (!isObject(c)) throw fieldError('userComment', '[missing]userComment', 'Your request is missing the user comment as JSON in the entity-body.')
    // Mirrors FusionAuth's UserCommentService.validate: presence first, then that both users exist.
    const errs = new FieldErrors()
    for (const k of ['commenterId', 'userId'] as const) {
      const v = c[k]
      if (v === undefined || v === null || v === '') errs.add(`userComment.${k}`, 'missing', `You must specify the userComment.${k}.`)
      else if (!isUuid(v)) errs.add(`userComment.${k}`, 'couldNotConvert', `Invalid userComment.${k} [${String(v)}]. This must be a valid UUID String.`)
    }
    if (typeof c.comment !== 'string' || c.comment.trim() === '') errs.add('userComment.comment', 'blank', 'You must specify the userComment.comment.')
    errs.throwIfAny()
    const commenter = this.findUser(c.commenterId, scope)
    const user = this.findUser(c.userId, scope)
    if (commenter === undefined) errs.add('userComment.commenterId', 'invalid', `The userComment.commenterId [${String(c.commenterId)}] is not a valid user.`)
    if (user === undefined) errs.add('userComment.userId', 'invalid', `The userComment.userId [${String(c.userId)}] is not a valid user.`)
    errs.throwIfAny()
    const u = user as FakeUser
    const entry = { id: randomUUID(), commenterId: (commenter as FakeUser).id, comment: c.comment as string, insertInstant: Date.now() }
    u.comments.push(entry)
    this.touch(u)
    const userComment = { id: entry.id, userId: u.id, commenterId: entry.commenterId, comment: entry.comment, insertInstant: entry.insertInstant }
    return { status: 200, body: { userComment } }
  }

  private addMembers (body: unknown, scope: Scope): Reply {
    const members = isObject(body) ? body.members : undefined
    if (!isObject(members) || Object.keys(members).length === 0) throw fieldError('members', '[missing]members', 'You must specify at least one group and its members.')
    const errs = new FieldErrors()
    const plan: Array<{ group: FakeGroup, users: FakeUser[] }> = []
    for (const [groupId, list] of Object.entries(members)) {
      const group = isUuid(groupId) ? this.groups.get(groupId.toLowerCase()) : undefined
      if (group === undefined) { errs.add('members', 'invalid', `The group [${groupId}] does not exist.`); continue }
      if (!Array.isArray(list) || list.length === 0) { errs.add('members', 'missing', `You must specify at least one member for group [${groupId}].`); continue }
      const users: FakeUser[] = []
      for (const m of list) {
        const u = isObject(m) ? this.findUser(m.userId, scope) : undefined
        if (u === undefined) errs.add('members', 'invalid', `The user [${isObject(m) ? String(m.userId) : JSON.stringify(m)}] does not exist.`)
        else users.push(u)
      }
      plan.push({ group, users })
    }
    errs.throwIfAny()
    const result: Record<string, Json[]> = {}
    for (const { group, users } of plan) {
      result[group.id] = users.map(u => {
        let m = u.memberships.find(x => x.groupId === group.id) // already a member: no duplicate
        if (m === undefined) {
          m = { id: randomUUID(), groupId: group.id, insertInstant: Date.now() }
          u.memberships.push(m)
          this.touch(u)
        }
        return this.memberJson(u, m)
      })
    }
    return { status: 200, body: { members: result } }
  }
}

interface Token { ls: SortKey, qs: string | undefined, q: string | undefined, sf: SortSpec[], at: boolean }

function encodeToken (t: Token): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url')
}

function decodeToken (raw: unknown): Token | undefined {
  if (typeof raw !== 'string' || raw === '') return undefined
  try {
    const t = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Token>
    if (!Array.isArray(t.ls) || !Array.isArray(t.sf)) return undefined
    return { ls: t.ls, qs: t.qs ?? undefined, q: t.q ?? undefined, sf: t.sf, at: t.at === true }
  } catch {
    return undefined
  }
}

export async function startFusionAuthFake (opts: FusionAuthFakeOptions = {}): Promise<FusionAuthFake> {
  const fake = new FakeFusionAuth(opts)
  await fake.listen()
  return fake
}
