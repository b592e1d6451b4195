/**
 * Tenants as operators name them: tables show a tenant's name beside its id, and `--tenant` takes an id, an
 * unambiguous prefix of one (as alert ids), or a name. Names come from FusionAuth when it is configured and answers
 * (GET /api/tenant, briefly: a command never waits long for a name), else from the policy file's `name:`; without
 * either, ids alone — the commands that read only the store keep working offline.
 */
import { gatewayOptions } from '../config/parts.js'
import type { Config } from '../config/index.js'
import { BridgeError } from '../errors.js'
import { createFusionAuthGateway } from '../fusionauth/index.js'
import type { Store } from '../store/types.js'

/** Tenant id (lower-case) → name. */
export type TenantNames = ReadonlyMap<string, string>

/** How long a command waits for FusionAuth's tenant names before it shows ids alone. */
const NAMES_TIMEOUT_MS = 3000

/** The names of the tenants: the policy file's, overridden by FusionAuth's when it answers. Never rejects. */
export async function tenantNames (config: Config): Promise<TenantNames> {
  const names = new Map<string, string>()
  for (const [id, p] of config.policies.tenants) if (p.name !== undefined) names.set(id.toLowerCase(), p.name)
  const options = gatewayOptions(config, { timeoutMs: Math.min(config.fusionAuthTimeoutMs, NAMES_TIMEOUT_MS) })
  if (options === undefined) return names
  const gateway = createFusionAuthGateway(options)
  try {
    for (const t of await gateway.listTenants()) if (t.name !== undefined) names.set(t.id.toLowerCase(), t.name)
  } catch {
    // Not reachable, or a key that may not list tenants: ids alone (or the policy file's names).
  } finally {
    await gateway.close()
  }
  return names
}

/** `Acme (5d9c…-full-id)` when the name is known, else the id. */
export function tenantLabel (names: TenantNames, tenantId: string | undefined): string {
  if (tenantId === undefined) return '-'
  const name = names.get(tenantId.toLowerCase())
  return name === undefined ? tenantId : `${name} (${tenantId})`
}

/** A `--tenant` that names no tenant the bridge knows, or several. */
export class TenantArgumentError extends BridgeError {
  readonly code = 'BRIDGE_TENANT_ARGUMENT'
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** Shortest id prefix accepted, as for alert ids. */
const MIN_PREFIX = 4

/**
 * `--tenant`: a full id (taken as it is), a prefix of the id of a tenant the store has steps for or FusionAuth
 * names (at least 4 characters), or a tenant's name (case-insensitive; a prefix of one when unique).
 */
export async function resolveTenant (store: Store, names: TenantNames, given: string): Promise<string> {
  return await resolveTenantIn(given, names, async prefix => await store.steps.tenants(prefix, 11))
}

/** `--tenant` against the tenants FusionAuth lists (`enzoic monitor sync`): every id is in `names`, with or without a name. */
export async function resolveTenantOf (tenants: ReadonlyArray<{ id: string, name?: string }>, given: string): Promise<string> {
  const names = new Map(tenants.filter(t => t.name !== undefined).map(t => [t.id.toLowerCase(), t.name!]))
  const ids = tenants.map(t => t.id.toLowerCase())
  return await resolveTenantIn(given, names, async prefix => ids.filter(id => id.startsWith(prefix)))
}

async function resolveTenantIn (given: string, names: TenantNames, idsStartingWith: (prefix: string) => Promise<string[]>): Promise<string> {
  const text = given.trim().toLowerCase()
  if (UUID.test(text)) return text
  const byId = /^[0-9a-f-]+$/.test(text) && text.replace(/-/g, '').length >= MIN_PREFIX
    ? new Set([...await idsStartingWith(text), ...[...names.keys()].filter(id => id.startsWith(text))])
    : new Set<string>()
  const named = [...names].filter(([, name]) => name.toLowerCase() === text).map(([id]) => id)
  const byName = named.length > 0 ? named : [...names].filter(([, name]) => name.toLowerCase().startsWith(text)).map(([id]) => id)
  const matches = [...new Set([...byId, ...byName])]
  const shown = (ids: readonly string[]): string => ids.slice(0, 10).map(id => tenantLabel(names, id)).join(', ')
  if (matches.length === 1) return matches[0]!
  if (matches.length > 1) throw new TenantArgumentError(`--tenant ${given} is ambiguous: it matches ${shown(matches)}: give more of the id`)
  const known = [...new Set([...(await idsStartingWith('')).slice(0, 10), ...names.keys()])]
  throw new TenantArgumentError(`--tenant ${given} matches no tenant${known.length === 0 ? '' : ` (known: ${shown(known)})`}: give its id, ` +
    `a prefix of at least ${MIN_PREFIX} characters of it, or its name`)
}
