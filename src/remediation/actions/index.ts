import { closestName } from '../../closest.js'
import { CORE, describeEndpoint, EVENT_SETUP, permissionOf, type Endpoint, type Method } from '../../fusionauth/index.js'
import { comment } from './comment.js'
import { deactivate } from './deactivate.js'
import { group } from './group.js'
import { notifyUser } from './notify-user.js'
import { requirePasswordChange } from './require-password-change.js'
import { revokeSessions } from './revoke-sessions.js'
import type { ActionModule, ActionSpec } from './types.js'
import { userAction } from './user-action.js'

export type { ActionContext, ActionEvent, ActionModule, ActionSpec, IdVerdict, RunResult, UndoResult } from './types.js'

/**
 * Every action the bridge knows, by name. Adding one is a module beside this file (see types.ts:
 * `ActionModule` declares run, undo, the endpoints it calls, what it needs, how `check` verifies its id, its
 * events), listed here, and its test: the worker, restore, `check`, the configuration and the README's API-key
 * list all read the declaration (docs/maintaining.md, "Add an action").
 */
export const ACTIONS: ReadonlyMap<string, ActionModule> = new Map(
  [deactivate, revokeSessions, requirePasswordChange, comment, userAction, group, notifyUser].map(a => [a.name, a])
)

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A stored or configured label (`group:<id>`) → its parts. The one place `name:id` is split. */
export function actionSpec (label: string): ActionSpec {
  const at = label.indexOf(':')
  return at < 0 ? { label, name: label } : { label, name: label.slice(0, at), id: label.slice(at + 1) }
}

/** The module of a label, or undefined for an action this bridge no longer knows. */
export function actionOf (label: string): ActionModule | undefined {
  return ACTIONS.get(actionSpec(label).name)
}

/** How BRIDGE_ACTIONS and the policy file spell the known actions. */
export function actionSyntax (): string {
  return [...ACTIONS.values()].map(x => x.takesId === undefined ? x.name : `${x.name}:<id>`).join(', ')
}

/**
 * `deactivate,group:<id>,…` → specs, and a problem for every bad entry, each naming its position and the closest
 * action name when a name is misspelt. `quote`: the entry itself is quoted too (the policy file's entries; a
 * variable's value is never echoed).
 */
export function parseActionList (text: string | readonly string[], { quote = false }: { quote?: boolean } = {}): { actions: ActionSpec[], problems: string[] } {
  const labels = typeof text === 'string' ? text.split(',').map(x => x.trim()).filter(x => x !== '') : text.map(x => x.trim())
  const actions: ActionSpec[] = []
  const problems: string[] = []
  for (const [i, label] of labels.entries()) {
    const entry = `entry ${i + 1}${quote ? ` ${JSON.stringify(label)}` : ''}`
    const { name, id = '' } = actionSpec(label)
    const a = ACTIONS.get(name)
    if (a === undefined) {
      const closest = closestName(name, ACTIONS.keys())
      problems.push(`${entry} is not a known action${closest === undefined ? '' : `: did you mean ${closest}?`} (${actionSyntax()})`)
      continue
    }
    let spec: ActionSpec
    if (a.takesId !== undefined) {
      if (!UUID.test(id)) { problems.push(`${entry}: "${name}" needs a ${a.takesId.what} (a UUID), e.g. ${name}:<uuid>`); continue }
      spec = { label: `${name}:${id.toLowerCase()}`, name, id: id.toLowerCase() }
    } else {
      if (id !== '') { problems.push(`${entry}: "${name}" takes no id`); continue }
      spec = { label: name, name }
    }
    if (actions.some(o => o.label === spec.label)) problems.push(`${entry} repeats an action`)
    else actions.push(spec)
  }
  return { actions, problems }
}

/**
 * One API-key permission (FusionAuth grants them per endpoint and method: `/api/user` DELETE), the calls that
 * need it, and what for. `label` names it in `check`'s lines: the action, `lookup`, `search`, `tenants`, or
 * `restore <action>` for a permission only an undo needs.
 */
export interface Permission { method: Method, path: string, endpoints: Endpoint[], usedBy: string[], label: string }

/**
 * Every permission a set of actions needs, to run and to undo, plus the calls the bridge always makes: what the
 * API key must allow. `check` probes each; the README's least-privilege list is this list for every action.
 */
export function permissionsFor (
  actions: Iterable<string>, extra: { search?: boolean, tenants?: boolean, check?: boolean, events?: boolean } = {}
): Permission[] {
  const out = new Map<string, Permission>()
  const add = (endpoint: Endpoint, why: string, label: string): void => {
    const { method, path } = permissionOf(endpoint)
    const key = `${path} ${method}`
    const entry = out.get(key) ?? { method, path, endpoints: [], usedBy: [], label }
    if (!entry.endpoints.some(e => describeEndpoint(e) === describeEndpoint(endpoint))) entry.endpoints.push(endpoint)
    if (!entry.usedBy.includes(why)) entry.usedBy.push(why)
    out.set(key, entry)
  }
  add(CORE.userById, 'every alert', 'lookup')
  add(CORE.userByEmail, 'every alert', 'lookup')
  if (extra.tenants === true) add(CORE.tenants, 'several tenants without FUSIONAUTH_TENANT_IDS', 'tenants')
  if (extra.search === true) add(CORE.search, 'enzoic monitor sync', 'search')
  const names = [...new Set(actions)]
  for (const name of names) for (const e of ACTIONS.get(name)?.calls.run ?? []) add(e, name, name)
  for (const name of names) for (const e of ACTIONS.get(name)?.calls.undo ?? []) add(e, `alerts restore (${name})`, `restore ${name}`)
  for (const name of names) for (const e of ACTIONS.get(name)?.calls.confirm ?? []) add(e, `resuming ${name} after a crash (is it done already?)`, `confirm ${name}`)
  if (extra.check === true) {
    for (const name of names) {
      const lookup = ACTIONS.get(name)?.takesId?.lookup
      if (lookup !== undefined) add(lookup.endpoint, `breach-bridge check (does the id of ${name}:<id> exist?)`, `check ${name}`)
    }
    add(CORE.version, 'breach-bridge check (optional: is this FusionAuth, which version?)', 'check')
  }
  if (extra.events === true) {
    const register = 'fusionauth webhooks register'
    add(EVENT_SETUP.webhooks, `${register}, list; check (with FUSIONAUTH_WEBHOOK_SECRET)`, 'webhooks')
    add(EVENT_SETUP.createWebhook, register, 'webhooks')
    add(EVENT_SETUP.updateWebhook, register, 'webhooks')
    add(EVENT_SETUP.deleteWebhook, 'fusionauth webhooks delete', 'webhooks')
    add(EVENT_SETUP.tenant, `${register}; check (with FUSIONAUTH_WEBHOOK_SECRET)`, 'tenant events')
    add(EVENT_SETUP.enableTenantEvents, register, 'tenant events')
  }
  return [...out.values()]
}

export { describeEndpoint }
