import { randomUUID } from 'node:crypto'
import { CORE, type Endpoint } from './endpoints.js'
import { FusionAuthError, foreignAnswer } from './errors.js'
import { createTransport, type CallOptions, type InspectAnswer, type InspectRequest, type Transport, type TransportOptions } from './transport.js'

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
  /** The user's time zone as FusionAuth holds it (an IANA name, unchecked): dates in their email use it. */
  timezone?: string
}

export interface Tenant { id: string, name?: string }

export interface UserSearchPage { users: FusionAuthUser[], total?: number, nextResults?: string }

export interface GatewayOptions extends TransportOptions {
  /** FUSIONAUTH_TENANT_IDS: when set, look only in these tenants (with the tenant header). */
  tenantIds?: readonly string[]
  /** How long the tenant list is cached. */
  tenantCacheMs?: number
}

/**
 * The single seam to FusionAuth (docs/design.md §3): user lookups for remediation, `monitor sync` and restore,
 * and `call()` through which each action (src/remediation/actions/) makes its own calls. Every method rejects
 * with FusionAuthError.
 */
export interface FusionAuthGateway {
  /** One call of an endpoint, through the shared pool (what actions use). */
  call<T = unknown>(endpoint: Endpoint, options?: CallOptions): Promise<T>
  /** Exact (trimmed, lower-cased) email in every allowed tenant; several tenants may match. */
  findUsersByEmail (email: string): Promise<FusionAuthUser[]>
  /** By id; undefined when not found (or in a tenant other than `tenantId`). */
  getUser (userId: string, tenantId?: string): Promise<FusionAuthUser | undefined>
  listTenants (): Promise<Tenant[]>
  /** One page of users (for `monitor sync`): `nextResults` continues past FusionAuth's 10,000 window. */
  searchUsers (opts: { tenantId?: string, pageSize: number, nextResults?: string, startRow?: number }): Promise<UserSearchPage>
  /** Resolves when FusionAuth answers and accepts the key (a user lookup by a random id: 404 = fine). */
  probe (): Promise<void>
  /**
   * Whether the key may call an endpoint, without changing anything: the call targets random ids (and an
   * empty body), so a permitted key gets 404/400 and a refused one 401.
   */
  mayCall (endpoint: Endpoint): Promise<{ allowed: boolean, status?: number, detail?: string }>
  close (): Promise<void>
}

/** Read-only raw requests for `breach-bridge check` (and nothing else). */
export interface FusionAuthProbes {
  /** One request through the gateway's pool and time-out; never rejects. */
  inspect (request: InspectRequest): Promise<InspectAnswer>
}

export type { InspectAnswer, InspectRequest }

/** FusionAuth's user JSON → what the bridge reads of it; undefined when it is not a user. */
export function toUser (u: unknown): FusionAuthUser | undefined {
  if (typeof u !== 'object' || u === null) return undefined
  const user = u as Record<string, unknown>
  if (typeof user.id !== 'string' || typeof user.tenantId !== 'string') return undefined
  const memberships = Array.isArray(user.memberships) ? user.memberships as Array<{ groupId?: unknown }> : []
  return {
    id: user.id,
    tenantId: user.tenantId,
    email: typeof user.email === 'string' ? user.email.toLowerCase() : undefined,
    active: user.active !== false,
    passwordLastUpdateInstant: typeof user.passwordLastUpdateInstant === 'number' ? user.passwordLastUpdateInstant : undefined,
    passwordChangeRequired: user.passwordChangeRequired === true,
    groupIds: memberships.map(m => m.groupId).filter((g): g is string => typeof g === 'string'),
    timezone: typeof user.timezone === 'string' ? user.timezone : undefined
  }
}

/**
 * Whether the key may call an endpoint, without changing anything: the call targets random ids (and an empty
 * body), so a permitted key gets 404/400 and a refused one 401.
 */
async function mayCall (transport: Transport, endpoint: Endpoint): Promise<{ allowed: boolean, status?: number, detail?: string }> {
  const params = Object.fromEntries([...endpoint.path.matchAll(/\{([^}]+)\}/g)].map(m => [m[1]!, randomUUID()]))
  const query = Object.fromEntries((endpoint.query ?? []).map(q => [q, q === 'email' ? `${randomUUID()}@permission-probe.invalid` : randomUUID()]))
  const body = endpoint.method === 'GET' || endpoint.method === 'DELETE' ? undefined : {}
  try {
    await transport.call(endpoint, { params, query, body })
    return { allowed: true, status: 200 }
  } catch (err) {
    const e = err as FusionAuthError
    if (e.kind === 'auth') return { allowed: false, status: e.status, detail: `refused (${e.status ?? 401}): the API key may not call this endpoint` }
    if (e.kind === 'retryable') return { allowed: false, status: e.status, detail: e.message }
    return { allowed: true, status: e.status }
  }
}

/** The search of one page: a `nextResults` token may be combined with `numberOfResults` only (else FusionAuth pages by 25). */
function searchBody (pageSize: number, nextResults?: string, startRow?: number): Record<string, unknown> {
  return nextResults !== undefined
    ? { nextResults, numberOfResults: pageSize }
    : { queryString: '*', numberOfResults: pageSize, startRow: startRow ?? 0, accurateTotal: true, sortFields: [{ name: 'id', order: 'asc' }] }
}

const isNotFound = (err: unknown): boolean => err instanceof FusionAuthError && err.kind === 'not-found'

export function createFusionAuthGateway (options: GatewayOptions): FusionAuthGateway & FusionAuthProbes {
  const transport = createTransport(options)
  let tenantCache: { at: number, tenants: Tenant[] } | undefined

  /** A lookup answer must carry a user: a 200 without one is not FusionAuth's. */
  function userOf (operation: string, answer: { user?: unknown }): FusionAuthUser {
    const user = toUser(answer.user)
    if (user === undefined) throw foreignAnswer(operation, 200, 'application/json', 0, 'a lookup answer carries the user')
    return user
  }

  async function lookupInTenant (email: string, tenantId: string | undefined): Promise<FusionAuthUser | undefined> {
    try {
      const r = await transport.call<{ user?: unknown }>(CORE.userByEmail, { query: { email }, tenantId })
      const user = userOf(CORE.userByEmail.operation, r)
      // FusionAuth matches exactly on its lower-cased copy; compare again rather than trust it.
      return user.email === email ? user : undefined
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  const gateway: FusionAuthGateway = {
    call: (endpoint, opts) => transport.call(endpoint, opts),
    async findUsersByEmail (rawEmail) {
      const email = rawEmail.trim().toLowerCase()
      const lookInEach = async (tenantIds: readonly string[]): Promise<FusionAuthUser[]> =>
        (await Promise.all(tenantIds.map(id => lookupInTenant(email, id)))).filter((u): u is FusionAuthUser => u !== undefined)
      if (options.tenantIds !== undefined) return await lookInEach(options.tenantIds)
      try {
        const one = await lookupInTenant(email, undefined)
        return one === undefined ? [] : [one]
      } catch (err) {
        // Several tenants and a key bound to none: FusionAuth wants the tenant header. Ask each tenant.
        if (err instanceof FusionAuthError && err.fusionAuthCode === '[TenantIdRequired]') {
          return await lookInEach((await gateway.listTenants()).map(t => t.id))
        }
        throw err
      }
    },
    async getUser (userId, tenantId) {
      try {
        const user = userOf(CORE.userById.operation, await transport.call<{ user?: unknown }>(CORE.userById, { params: { userId }, tenantId }))
        return tenantId === undefined || user.tenantId === tenantId ? user : undefined
      } catch (err) {
        if (isNotFound(err) || (err instanceof FusionAuthError && err.status === 400 && tenantId !== undefined)) return undefined
        throw err
      }
    },
    async listTenants () {
      if (tenantCache !== undefined && Date.now() - tenantCache.at < (options.tenantCacheMs ?? 300_000)) return tenantCache.tenants
      const r = await transport.call<{ tenants?: Array<{ id?: unknown, name?: unknown }> }>(CORE.tenants)
      const tenants = (r.tenants ?? []).filter(t => typeof t.id === 'string').map(t => ({ id: t.id as string, name: typeof t.name === 'string' ? t.name : undefined }))
      tenantCache = { at: Date.now(), tenants }
      return tenants
    },
    async searchUsers ({ tenantId, pageSize, nextResults, startRow }) {
      const search = searchBody(pageSize, nextResults, startRow)
      const r = await transport.call<{ users?: unknown[], total?: number, nextResults?: string }>(CORE.search, { body: { search }, tenantId })
      return {
        users: (r.users ?? []).map(toUser).filter((u): u is FusionAuthUser => u !== undefined),
        total: typeof r.total === 'number' ? r.total : undefined,
        nextResults: typeof r.nextResults === 'string' ? r.nextResults : undefined
      }
    },
    async probe () {
      await gateway.getUser(randomUUID())
    },
    mayCall: async endpoint => await mayCall(transport, endpoint),
    close: () => transport.close()
  }
  return Object.assign(gateway, { inspect: (req: InspectRequest) => transport.inspect(req) })
}
