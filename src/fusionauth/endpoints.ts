/**
 * A FusionAuth endpoint as the bridge calls it: the call, the API-key permission it needs, and what FusionAuth
 * documents as its successful answer. One declaration serves the call (transport.ts), `check`'s permission
 * probe (gateway.ts `mayCall`) and the README's least-privilege key list, so they cannot drift apart.
 */
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface Endpoint {
  /** Metric and message label, e.g. `user.deactivate`. */
  readonly operation: string
  readonly method: Method
  /** e.g. `/api/user/{userId}`: each `{name}` is filled from the call's `params`. */
  readonly path: string
  /** Query parameters a call always carries (a permission probe fills them with random ids). */
  readonly query?: readonly string[]
  /** FusionAuth's documented success answer: a JSON object, or an empty body. Anything else is not FusionAuth's. */
  readonly answers: 'json' | 'empty'
}

export function endpoint (operation: string, method: Method, path: string, answers: Endpoint['answers'], query?: readonly string[]): Endpoint {
  return Object.freeze({ operation, method, path, answers, query })
}

/**
 * The API-key permission an endpoint needs, as FusionAuth's key settings name it: the path without its
 * trailing id segments, and the method (`DELETE /api/user/{userId}` → `/api/user` DELETE).
 */
export function permissionOf (e: Endpoint): { path: string, method: Method } {
  return { path: e.path.replace(/(\/\{[^}]+\})+$/, ''), method: e.method }
}

/** `DELETE /api/user/{userId}` (with `?userId=` when the call carries it): how messages and docs print it. */
export function describeEndpoint (e: Endpoint): string {
  return `${e.method} ${e.path}${e.query === undefined || e.query.length === 0 ? '' : `?${e.query.map(q => `${q}=`).join('&')}`}`
}

/** The calls the bridge makes besides its actions' (user lookups, tenants, the search of `monitor sync`). */
export const CORE = {
  userByEmail: endpoint('user.lookup', 'GET', '/api/user', 'json', ['email']),
  userById: endpoint('user.get', 'GET', '/api/user/{userId}', 'json'),
  tenants: endpoint('tenant.list', 'GET', '/api/tenant', 'json'),
  search: endpoint('user.search', 'POST', '/api/user/search', 'json'),
  version: endpoint('system.version', 'GET', '/api/system/version', 'json')
} as const

/**
 * FusionAuth's own webhook and the tenants' event configuration: what `breach-bridge fusionauth webhooks
 * register | list | delete` call, and what `check` reads when FUSIONAUTH_WEBHOOK_SECRET is set.
 */
export const EVENT_SETUP = {
  webhooks: endpoint('webhook.list', 'GET', '/api/webhook', 'json'),
  createWebhook: endpoint('webhook.create', 'POST', '/api/webhook', 'json'),
  updateWebhook: endpoint('webhook.update', 'PUT', '/api/webhook/{webhookId}', 'json'),
  deleteWebhook: endpoint('webhook.delete', 'DELETE', '/api/webhook/{webhookId}', 'empty'),
  tenant: endpoint('tenant.get', 'GET', '/api/tenant/{tenantId}', 'json'),
  enableTenantEvents: endpoint('tenant.patch', 'PATCH', '/api/tenant/{tenantId}', 'json')
} as const
