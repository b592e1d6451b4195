import { createRequire } from 'node:module'
import { randomUUID } from 'node:crypto'
import { Agent, request } from 'undici'
import { parseRetryAfter } from '../net/retry-after.js'
import { FusionAuthClient, type User } from '@fusionauth/typescript-client'
import type * as ClientResponseModule from '@fusionauth/typescript-client/build/src/ClientResponse.js'
import type * as DefaultRESTClientModule from '@fusionauth/typescript-client/build/src/DefaultRESTClient.js'

// The client is CommonJS; its REST client and ClientResponse classes are only reachable by deep path.
const require = createRequire(import.meta.url)
// (Under NodeNext a CommonJS module's `default` is its whole exports object, hence `.default.default`.)
const DefaultRESTClient = (require('@fusionauth/typescript-client/build/src/DefaultRESTClient.js') as typeof DefaultRESTClientModule.default).default
const ClientResponse = (require('@fusionauth/typescript-client/build/src/ClientResponse.js') as typeof ClientResponseModule.default).default
type ClientResponseOf<T> = InstanceType<typeof ClientResponse<T>>
type IRESTClientBuilder = FusionAuthClient['clientBuilder']

/** What the bridge needs to know about a FusionAuth user. */
export interface FusionAuthUser {
  id: string
  tenantId: string
  email?: string
  active: boolean
  /** Epoch ms of the last password change, when FusionAuth reports it. */
  passwordLastUpdateInstant?: number
  passwordChangeRequired?: boolean
  /** The groups the user is a member of. */
  groupIds?: string[]
}

export interface Tenant { id: string, name?: string }

export type FusionAuthErrorKind = 'auth' | 'retryable' | 'permanent' | 'not-found'

/**
 * Every failed FusionAuth call becomes this one error (the client rejects with a `ClientResponse`, which
 * is not an Error). `kind` drives the worker: auth → pause, retryable → back off, permanent → dead.
 */
export class FusionAuthError extends Error {
  readonly code = 'BRIDGE_FUSIONAUTH'
  constructor (
    readonly operation: string,
    readonly status: number | undefined,
    readonly kind: FusionAuthErrorKind,
    /** FusionAuth's own error code, e.g. `[TenantIdRequired]`. */
    readonly fusionAuthCode: string | undefined,
    message: string,
    /** How long FusionAuth asked us to wait (`Retry-After` on a 429 or 503). */
    readonly retryAfterMs?: number
  ) {
    super(message)
    this.name = 'FusionAuthError'
  }

  get retryable (): boolean { return this.kind === 'retryable' }

  toJSON (): Record<string, unknown> {
    return { name: this.name, code: this.code, operation: this.operation, status: this.status, kind: this.kind, fusionAuthCode: this.fusionAuthCode, message: this.message, retryAfterMs: this.retryAfterMs }
  }
}

function kindOf (status: number | undefined): FusionAuthErrorKind {
  if (status === undefined || status === 0) return 'retryable' // network error or time-out
  if (status === 401 || status === 403) return 'auth'
  if (status === 404) return 'not-found'
  if (status === 429 || status >= 500) return 'retryable'
  return 'permanent'
}

interface ErrorBody {
  generalErrors?: Array<{ code?: string, message?: string }>
  // FusionAuth sends an object keyed by field (its OpenAPI file says array): accept both.
  fieldErrors?: Record<string, Array<{ code?: string, message?: string }>> | Array<{ code?: string, message?: string }>
}

function firstErrorCode (body: unknown): { code?: string, message?: string } {
  if (body === null || typeof body !== 'object') return {}
  const b = body as ErrorBody
  const general = b.generalErrors?.[0]
  if (general !== undefined) return general
  const fields = b.fieldErrors
  if (Array.isArray(fields)) return fields[0] ?? {}
  if (fields !== undefined) {
    const [field, errs] = Object.entries(fields)[0] ?? []
    if (errs?.[0] !== undefined) return { code: errs[0].code, message: `${field ?? ''}: ${errs[0].message ?? ''}` }
  }
  return {}
}

/** Turns whatever the client rejected with into a FusionAuthError. */
export function toFusionAuthError (operation: string, rejected: unknown): FusionAuthError {
  if (rejected instanceof FusionAuthError) return rejected
  const r = rejected as { statusCode?: number, exception?: unknown, retryAfterMs?: number }
  const status = typeof r?.statusCode === 'number' && r.statusCode > 0 ? r.statusCode : undefined
  const exception = r?.exception
  if (status === undefined) {
    const cause = exception instanceof Error ? (exception.name === 'TimeoutError' || exception.name === 'AbortError' ? 'time-out' : (exception as NodeJS.ErrnoException).code ?? exception.message) : 'network error'
    return new FusionAuthError(operation, undefined, 'retryable', undefined, `${operation}: ${cause}`)
  }
  const { code, message } = firstErrorCode(exception)
  const kind = kindOf(status)
  const text = kind === 'auth'
    ? `${operation}: FusionAuth refused the API key (${status}): check FUSIONAUTH_API_KEY and its endpoint permissions`
    : `${operation}: HTTP ${status}${code !== undefined ? ` ${code}` : ''}${message !== undefined ? ` ${message}` : ''}`
  return new FusionAuthError(operation, status, kind, code, text, r.retryAfterMs)
}

/**
 * A REST client builder whose `go()` sends through undici with a keep-alive pool and a hard time-out.
 * The stock client uses node-fetch with no time-out and no signal.
 */
function createUndiciBuilder (dispatcher: Agent, timeoutMs: number): IRESTClientBuilder {
  class UndiciRESTClient<RT, ERT> extends DefaultRESTClient<RT, ERT> {
    override async go (): Promise<ClientResponseOf<RT>> {
      const self = this as unknown as { method: string, headers: Record<string, string>, body?: string, getFullUrl (): string }
      const out = new ClientResponse<RT>()
      try {
        const res = await request(self.getFullUrl(), {
          method: self.method as 'GET',
          headers: self.headers,
          body: self.body,
          dispatcher,
          signal: AbortSignal.timeout(timeoutMs),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs
        })
        out.statusCode = res.statusCode
        const text = await res.body.text()
        let json: unknown
        if (text !== '' && String(res.headers['content-type'] ?? '').startsWith('application/json')) {
          try { json = JSON.parse(text) } catch { json = undefined }
        }
        if (res.statusCode >= 200 && res.statusCode < 300) {
          out.response = json as RT
          return out
        }
        out.exception = json as Error
        if (res.statusCode === 429 || res.statusCode === 503) {
          (out as { retryAfterMs?: number }).retryAfterMs = parseRetryAfter(res.headers['retry-after'])
        }
      } catch (err) {
        out.exception = err as Error
      }
      throw out // the stock client's contract: reject with a ClientResponse
    }
  }
  return { build: <RT, ERT>(host: string) => new UndiciRESTClient<RT, ERT>(host) as unknown as ReturnType<IRESTClientBuilder['build']> } as IRESTClientBuilder
}

export interface GatewayOptions {
  url: string
  apiKey: string
  timeoutMs: number
  /** Keep-alive connections in the pool. */
  connections?: number
  /** FUSIONAUTH_TENANT_IDS: when set, look only in these tenants (with the tenant header). */
  tenantIds?: readonly string[]
  /** Observes every call: operation, HTTP status (0 = no answer), seconds. */
  onCall?: (operation: string, status: number, seconds: number) => void
  /** How long the tenant list is cached. */
  tenantCacheMs?: number
}

export interface UserSearchPage { users: FusionAuthUser[], total?: number, nextResults?: string }

/** The single seam to FusionAuth: user lookup and the actions. Every method rejects with FusionAuthError. */
export interface FusionAuthGateway {
  /** Exact (trimmed, lower-cased) email in every allowed tenant; several tenants may match. */
  findUsersByEmail (email: string): Promise<FusionAuthUser[]>
  /** By id; undefined when not found (or in a tenant other than `tenantId`). */
  getUser (userId: string, tenantId?: string): Promise<FusionAuthUser | undefined>
  deactivate (user: FusionAuthUser): Promise<void>
  revokeSessions (user: FusionAuthUser): Promise<void>
  requirePasswordChange (user: FusionAuthUser): Promise<void>
  comment (user: FusionAuthUser, commenterId: string, text: string): Promise<void>
  /** The action FusionAuth created (`actionId`), or nothing when the same one was already in effect. */
  userAction (user: FusionAuthUser, userActionId: string, actionerUserId: string, comment: string): Promise<{ actionId?: string }>
  addToGroup (user: FusionAuthUser, groupId: string): Promise<void>
  /** Undo of deactivate: `PUT /api/user/{id}?reactivate=true`. */
  reactivate (user: FusionAuthUser): Promise<void>
  /** Undo of a user action: `DELETE /api/user/action/{actionId}`. */
  cancelUserAction (user: FusionAuthUser, actionId: string, actionerUserId: string, comment: string): Promise<void>
  /** Undo of group membership: `DELETE /api/group/member`. */
  removeFromGroup (user: FusionAuthUser, groupId: string): Promise<void>
  /** Undo of require-password-change. */
  clearPasswordChange (user: FusionAuthUser): Promise<void>
  /** `POST /api/email/send/{templateId}` to one user; resolves with FusionAuth's per-user template errors, if any. */
  sendEmail (user: FusionAuthUser, templateId: string, requestData: Record<string, unknown>): Promise<{ templateErrors?: string }>
  listTenants (): Promise<Tenant[]>
  /** One page of users (for `monitor sync`): `nextResults` continues past FusionAuth's 10,000 window. */
  searchUsers (opts: { tenantId?: string, pageSize: number, nextResults?: string, startRow?: number }): Promise<UserSearchPage>
  /** Resolves when FusionAuth answers and accepts the key (a user lookup by a random id: 404 = fine). */
  probe (): Promise<void>
  /**
   * Whether the key may call an operation, without changing anything: the call targets a random user id,
   * so a permitted key gets 404/400 and a refused one 401.
   */
  mayCall (operation: PermissionProbe): Promise<{ allowed: boolean, status?: number, detail?: string }>
  close (): Promise<void>
}

/** A request `breach-bridge check` sends to learn what the server is (see FusionAuthProbes.inspect). */
export interface InspectRequest {
  method?: 'GET' | 'POST'
  /** From the base URL, e.g. `/api/status`. */
  path: string
  /** Send no API key (FusionAuth's anonymous endpoints). */
  anonymous?: boolean
  tenantId?: string
  body?: unknown
}

/** What came back, as raw facts: nothing is interpreted, nothing thrown. */
export interface InspectAnswer {
  /** Undefined when no HTTP answer came (`error` says why). */
  status?: number
  contentType?: string
  /** The parsed body when it was JSON (by content type). */
  json?: unknown
  /** Length of the body in bytes. */
  bodyBytes?: number
  /** No answer: `ECONNREFUSED`, `time-out`, … */
  error?: string
}

export interface FusionAuthGroup { id: string, name?: string, tenantId?: string }
export interface FusionAuthUserAction { id: string, name?: string, active?: boolean, temporal?: boolean, preventLogin?: boolean }

/**
 * Read-only calls for `breach-bridge check` (and nothing else): they change nothing in FusionAuth.
 * `getGroup` and `getUserAction` reject with FusionAuthError like the gateway's other methods.
 */
export interface FusionAuthProbes {
  /** One request through the gateway's pool and time-out; never rejects. */
  inspect (request: InspectRequest): Promise<InspectAnswer>
  /** `GET /api/group/{id}`; undefined when FusionAuth has no such group. */
  getGroup (groupId: string): Promise<FusionAuthGroup | undefined>
  /** `GET /api/user-action/{id}`; undefined when FusionAuth has no such user action. */
  getUserAction (userActionId: string): Promise<FusionAuthUserAction | undefined>
}

/** Java's "forever" (2^63−1) is no JS number: 9999-12-31 is as good for a breach lock. */
export const FOREVER = Date.UTC(9999, 11, 31, 23, 59, 59)

export type PermissionProbe = 'lookup' | 'deactivate' | 'revoke-sessions' | 'require-password-change' | 'comment' | 'user-action' | 'group' | 'email' | 'search' | 'tenants'

function toUser (u: User | undefined): FusionAuthUser | undefined {
  if (u?.id === undefined || u.tenantId === undefined) return undefined
  return {
    id: u.id,
    tenantId: u.tenantId,
    email: u.email?.toLowerCase(),
    active: u.active !== false,
    passwordLastUpdateInstant: typeof u.passwordLastUpdateInstant === 'number' ? u.passwordLastUpdateInstant : undefined,
    passwordChangeRequired: u.passwordChangeRequired === true,
    groupIds: (u.memberships ?? []).map(m => m.groupId).filter((g): g is string => typeof g === 'string')
  }
}

export function createFusionAuthGateway (options: GatewayOptions): FusionAuthGateway & FusionAuthProbes {
  // undici drops a connection `keepAliveTimeoutThreshold` (default 2 s) before the server's advertised keep-alive
  // ends: a server announcing `Keep-Alive: timeout=2` would cost a new TCP connection per call. 1 s keeps the margin.
  const dispatcher = new Agent({ connections: options.connections ?? 32, keepAliveTimeout: 30_000, keepAliveTimeoutThreshold: 1000, connect: { timeout: options.timeoutMs } })
  const builder = createUndiciBuilder(dispatcher, options.timeoutMs)
  const host = options.url.replace(/\/+$/, '')
  // setTenantId() changes every later call on an instance: one client per tenant (and one without).
  const clients = new Map<string, FusionAuthClient>()
  const client = (tenantId?: string): FusionAuthClient => {
    const k = tenantId ?? ''
    let c = clients.get(k)
    if (c === undefined) {
      c = new FusionAuthClient(options.apiKey, host, tenantId)
      c.clientBuilder = builder
      clients.set(k, c)
    }
    return c
  }
  let tenantCache: { at: number, tenants: Tenant[] } | undefined

  async function call<T> (operation: string, fn: () => Promise<{ response: T, statusCode: number }>): Promise<T> {
    const started = performance.now()
    try {
      const r = await fn()
      options.onCall?.(operation, r.statusCode, (performance.now() - started) / 1000)
      return r.response
    } catch (rejected) {
      const err = toFusionAuthError(operation, rejected)
      options.onCall?.(operation, err.status ?? 0, (performance.now() - started) / 1000)
      throw err
    }
  }

  async function lookupInTenant (email: string, tenantId: string | undefined): Promise<FusionAuthUser | undefined> {
    try {
      const r = await call('user.lookup', () => client(tenantId).retrieveUserByEmail(email))
      const user = toUser(r.user)
      // FusionAuth matches exactly on its lower-cased copy; compare again rather than trust it.
      return user !== undefined && user.email === email ? user : undefined
    } catch (err) {
      if (err instanceof FusionAuthError && err.kind === 'not-found') return undefined
      throw err
    }
  }

  const gateway: FusionAuthGateway = {
    async findUsersByEmail (rawEmail) {
      const email = rawEmail.trim().toLowerCase()
      const lookInEach = async (tenantIds: readonly string[]): Promise<FusionAuthUser[]> =>
        (await Promise.all(tenantIds.map(id => lookupInTenant(email, id)))).filter((u): u is FusionAuthUser => u !== undefined)
      if (options.tenantIds !== undefined) return lookInEach(options.tenantIds)
      try {
        const one = await lookupInTenant(email, undefined)
        return one === undefined ? [] : [one]
      } catch (err) {
        // Several tenants and a key bound to none: FusionAuth wants the tenant header. Ask each tenant.
        if (err instanceof FusionAuthError && err.fusionAuthCode === '[TenantIdRequired]') {
          return lookInEach((await gateway.listTenants()).map(t => t.id))
        }
        throw err
      }
    },
    async getUser (userId, tenantId) {
      try {
        const r = await call('user.get', () => client(tenantId).retrieveUser(userId))
        const user = toUser(r.user)
        return user !== undefined && (tenantId === undefined || user.tenantId === tenantId) ? user : undefined
      } catch (err) {
        if (err instanceof FusionAuthError && (err.kind === 'not-found' || (err.status === 400 && tenantId !== undefined))) return undefined
        throw err
      }
    },
    async deactivate (user) {
      // DELETE without hardDelete is FusionAuth's soft delete (active=false, reversible).
      await call('user.deactivate', () => client(user.tenantId).deactivateUser(user.id))
    },
    async revokeSessions (user) {
      await call('refresh-tokens.revoke', () => client(user.tenantId).revokeRefreshTokensByUserId(user.id))
    },
    async requirePasswordChange (user) {
      await call('user.require-password-change', () => client(user.tenantId).patchUser(user.id, {
        user: { passwordChangeRequired: true, passwordChangeReason: 'Breached' as never }
      }))
    },
    async comment (user, commenterId, text) {
      await call('user.comment', () => client(user.tenantId).commentOnUser({ userComment: { userId: user.id, commenterId, comment: text } }))
    },
    async userAction (user, userActionId, actionerUserId, comment) {
      const send = async (expiry?: number): Promise<{ actionId?: string }> => {
        const r = await call('user.action', () => client(user.tenantId).actionUser({
          action: { actioneeUserId: user.id, actionerUserId, userActionId, comment, expiry }
        }))
        return { actionId: r.action?.id }
      }
      try {
        return await send()
      } catch (err) {
        // The same time-based action still in effect (an earlier delivery or attempt applied it): done.
        if (err instanceof FusionAuthError && err.status === 400 && err.fusionAuthCode === '[UserAlreadyActioned]') return {}
        // A time-based (temporal) action, e.g. a lock with preventLogin, needs an expiry; a plain one refuses
        // it. Rather than read the action's definition (another permission), ask again with "forever".
        if (!(err instanceof FusionAuthError) || err.status !== 400 || !/\]action\.expiry$/.test(err.fusionAuthCode ?? '')) throw err
        try {
          return await send(FOREVER)
        } catch (again) {
          if (again instanceof FusionAuthError && again.fusionAuthCode === '[UserAlreadyActioned]') return {}
          throw again
        }
      }
    },
    async addToGroup (user, groupId) {
      await call('group.member.add', () => client(user.tenantId).createGroupMembers({ members: { [groupId]: [{ userId: user.id }] } }))
    },
    async reactivate (user) {
      await call('user.reactivate', () => client(user.tenantId).reactivateUser(user.id))
    },
    async cancelUserAction (user, actionId, actionerUserId, comment) {
      await call('user.action.cancel', () => client(user.tenantId).cancelAction(actionId, { action: { actionerUserId, comment } }))
    },
    async removeFromGroup (user, groupId) {
      await call('group.member.remove', () => client(user.tenantId).deleteGroupMembers({ members: { [groupId]: [user.id] } }))
    },
    async clearPasswordChange (user) {
      await call('user.clear-password-change', () => client(user.tenantId).patchUser(user.id, { user: { passwordChangeRequired: false } }))
    },
    async sendEmail (user, templateId, requestData) {
      const r = await call('email.send', () => client(user.tenantId).sendEmail(templateId, { userIds: [user.id], requestData }))
      const errors = r?.results?.[user.id]
      const text = errors === undefined ? undefined : JSON.stringify(errors)
      return text === undefined || text === '{}' ? {} : { templateErrors: text }
    },
    async listTenants () {
      if (tenantCache !== undefined && Date.now() - tenantCache.at < (options.tenantCacheMs ?? 300_000)) return tenantCache.tenants
      const r = await call('tenant.list', () => client().retrieveTenants())
      const tenants = (r.tenants ?? []).filter(t => t.id !== undefined).map(t => ({ id: t.id!, name: t.name }))
      tenantCache = { at: Date.now(), tenants }
      return tenants
    },
    async searchUsers ({ tenantId, pageSize, nextResults, startRow }) {
      // A nextResults token may be combined with numberOfResults only (else FusionAuth pages by 25).
      const search = nextResults !== undefined
        ? { nextResults, numberOfResults: pageSize }
        : { queryString: '*', numberOfResults: pageSize, startRow: startRow ?? 0, accurateTotal: true, sortFields: [{ name: 'id', order: 'asc' as never }] }
      const r = await call('user.search', () => client(tenantId).searchUsersByQuery({ search: search as never }))
      return {
        users: (r.users ?? []).map(toUser).filter((u): u is FusionAuthUser => u !== undefined),
        total: r.total,
        nextResults: (r as { nextResults?: string }).nextResults
      }
    },
    async probe () {
      await gateway.getUser(randomUUID())
    },
    async mayCall (operation) {
      const ghost: FusionAuthUser = { id: randomUUID(), tenantId: randomUUID(), active: true }
      const attempts: Record<PermissionProbe, () => Promise<unknown>> = {
        lookup: () => call('user.get', () => client().retrieveUser(ghost.id)),
        deactivate: () => call('user.deactivate', () => client().deactivateUser(ghost.id)),
        'revoke-sessions': () => call('refresh-tokens.revoke', () => client().revokeRefreshTokensByUserId(ghost.id)),
        'require-password-change': () => call('user.require-password-change', () => client().patchUser(ghost.id, { user: { passwordChangeRequired: true } })),
        comment: () => call('user.comment', () => client().commentOnUser({ userComment: { userId: ghost.id, commenterId: ghost.id, comment: 'permission probe' } })),
        'user-action': () => call('user.action', () => client().actionUser({ action: { actioneeUserId: ghost.id, userActionId: randomUUID() } })),
        group: () => call('group.member.add', () => client().createGroupMembers({ members: { [randomUUID()]: [{ userId: ghost.id }] } })),
        email: () => call('email.send', () => client().sendEmail(randomUUID(), { userIds: [ghost.id] })),
        search: () => call('user.search', () => client().searchUsersByQuery({ search: { queryString: '*', numberOfResults: 1 } })),
        tenants: () => call('tenant.list', () => client().retrieveTenants())
      }
      try {
        await attempts[operation]()
        return { allowed: true, status: 200 }
      } catch (err) {
        const e = err as FusionAuthError
        if (e.kind === 'auth') return { allowed: false, status: e.status, detail: 'refused (401): the API key may not call this endpoint' }
        if (e.kind === 'retryable') return { allowed: false, status: e.status, detail: e.message }
        return { allowed: true, status: e.status }
      }
    },
    async close () {
      await dispatcher.close()
    }
  }
  const probes: FusionAuthProbes = {
    async inspect ({ method = 'GET', path, anonymous = false, tenantId, body }) {
      const headers: Record<string, string> = { accept: 'application/json' }
      if (!anonymous) headers.authorization = options.apiKey
      if (tenantId !== undefined) headers['x-fusionauth-tenantid'] = tenantId
      if (body !== undefined) headers['content-type'] = 'application/json'
      try {
        const res = await request(`${host}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          dispatcher,
          signal: AbortSignal.timeout(options.timeoutMs),
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs
        })
        const text = await res.body.text()
        const contentType = String(res.headers['content-type'] ?? '')
        let json: unknown
        if (text !== '' && contentType.startsWith('application/json')) {
          try { json = JSON.parse(text) } catch { json = undefined }
        }
        return { status: res.statusCode, contentType, json, bodyBytes: Buffer.byteLength(text) }
      } catch (err) {
        const e = err as NodeJS.ErrnoException
        return { error: e.name === 'TimeoutError' || e.name === 'AbortError' ? 'time-out' : e.code ?? e.message }
      }
    },
    async getGroup (groupId) {
      try {
        const r = await call('group.get', () => client().retrieveGroup(groupId))
        const g = r.group
        return g?.id === undefined ? undefined : { id: g.id, name: g.name, tenantId: g.tenantId }
      } catch (err) {
        if (err instanceof FusionAuthError && err.kind === 'not-found') return undefined
        throw err
      }
    },
    async getUserAction (userActionId) {
      try {
        const r = await call('user-action.get', () => client().retrieveUserAction(userActionId))
        const a = r.userAction
        return a?.id === undefined ? undefined : { id: a.id, name: a.name, active: a.active, temporal: a.temporal, preventLogin: a.preventLogin }
      } catch (err) {
        if (err instanceof FusionAuthError && err.kind === 'not-found') return undefined
        throw err
      }
    }
  }
  return Object.assign(gateway, probes)
}
