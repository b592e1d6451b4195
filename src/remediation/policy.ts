import { readFileSync } from 'node:fs'
import { parseDocument } from 'yaml'
import { z } from 'zod'
import { closestName } from '../closest.js'
import { parseDuration } from '../duration.js'
import { parseActionList, type ActionSpec } from './actions/index.js'
import type { FusionAuthUser } from '../fusionauth/index.js'

/** What happens to a breached user of one tenant (docs/design.md §10). */
export interface Policy {
  /** Due at once (BRIDGE_ACTIONS). */
  readonly actions: readonly ActionSpec[]
  /** Between the alert and the grace actions (BRIDGE_GRACE_PERIOD); undefined: no grace period. */
  readonly graceMs?: number
  /** Due when the grace period ends, unless the user changed their password meanwhile (BRIDGE_GRACE_ACTIONS). */
  readonly graceActions: readonly ActionSpec[]
  /** User ids or emails, lower-cased, never actioned (break-glass accounts). */
  readonly protectedUsers: readonly string[]
  /** Members of these groups are never actioned. */
  readonly protectedGroupIds: readonly string[]
  readonly dryRun: boolean
  readonly skipIfPasswordChangedAfterExposure: boolean
  /**
   * Where each list of ids was written, for messages that say what to fix: `BRIDGE_ACTIONS`, or
   * `BRIDGE_POLICY_FILE <path>: tenants.<id>.actions`. Absent: the environment's variables.
   */
  readonly origin?: PolicyOrigin
}

export interface PolicyOrigin { readonly actions: string, readonly graceActions: string, readonly protectedGroupIds: string }

/** The environment's policy: its lists come from these variables. */
export const ENV_ORIGIN: PolicyOrigin = { actions: 'BRIDGE_ACTIONS', graceActions: 'BRIDGE_GRACE_ACTIONS', protectedGroupIds: 'BRIDGE_POLICY_FILE' }

export interface Policies {
  /** The environment, overlaid by the policy file's `default`. */
  readonly default: Policy
  readonly tenants: ReadonlyMap<string, Policy & { name?: string }>
  /** BRIDGE_POLICY_FILE, when one was read. */
  readonly file?: string
}

export function policyFor (policies: Policies, tenantId: string | undefined): Policy {
  return (tenantId === undefined ? undefined : policies.tenants.get(tenantId.toLowerCase())) ?? policies.default
}

/** Each id a policy names (an action's `:<id>`, a protected group) and every place it is written. */
export interface NamedIn<T> { readonly value: T, readonly from: readonly string[] }

function collect<T> (policies: Policies, key: (v: T) => string, each: (p: Policy, origin: PolicyOrigin) => Array<[T, string]>): Array<NamedIn<T>> {
  const out = new Map<string, { value: T, from: string[] }>()
  for (const p of [policies.default, ...policies.tenants.values()]) {
    for (const [value, where] of each(p, p.origin ?? ENV_ORIGIN)) {
      const entry = out.get(key(value)) ?? { value, from: [] }
      if (!entry.from.includes(where)) entry.from.push(where)
      out.set(key(value), entry)
    }
  }
  return [...out.values()]
}

/** Every action of every policy, with where it is written (`check` says what to fix). */
export function actionsNamedIn (policies: Policies): Array<NamedIn<ActionSpec>> {
  return collect<ActionSpec>(policies, a => a.label, (p, o) => [
    ...p.actions.map((a): [ActionSpec, string] => [a, o.actions]),
    ...p.graceActions.map((a): [ActionSpec, string] => [a, o.graceActions])
  ])
}

/** Every protected group of every policy, with where it is written. */
export function protectedGroupsNamedIn (policies: Policies): Array<NamedIn<string>> {
  return collect<string>(policies, g => g, (p, o) => p.protectedGroupIds.map(g => [g, o.protectedGroupIds]))
}

/** Every action any policy may run (what `check` probes and FUSIONAUTH_ACTOR_USER_ID is needed for). */
export function allActions (policies: Policies): ActionSpec[] {
  const out = new Map<string, ActionSpec>()
  for (const p of [policies.default, ...policies.tenants.values()]) for (const a of [...p.actions, ...p.graceActions]) out.set(a.label, a)
  return [...out.values()]
}

const days = (ms: number): string => ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.round(ms / 1000)}s`

/** One line per policy: the default, then each tenant of BRIDGE_POLICY_FILE — what an alert will do there. */
export function describePolicies (policies: Policies): Array<{ what: string, detail: string }> {
  const text = (p: Policy): string => [
    `actions ${p.actions.map(a => a.label).join(',') || '(none)'}`,
    p.graceMs === undefined ? 'no grace period' : `grace ${days(p.graceMs)} then ${p.graceActions.map(a => a.label).join(',')} unless the password changed`,
    p.protectedUsers.length > 0 ? `${p.protectedUsers.length} protected user(s)` : '',
    p.protectedGroupIds.length > 0 ? `protected groups ${p.protectedGroupIds.join(',')}` : '',
    p.skipIfPasswordChangedAfterExposure ? 'skip when the password changed after the exposure' : '',
    p.dryRun ? 'DRY RUN (nothing changed)' : ''
  ].filter(x => x !== '').join('; ')
  const source = policies.file === undefined ? 'from the environment' : `environment + ${policies.file}`
  return [
    { what: 'policy (default)', detail: `${text(policies.default)} (${source})` },
    ...[...policies.tenants].map(([id, p]) => ({ what: `policy tenant ${p.name ?? id}`, detail: `${p.name === undefined ? '' : `${id}: `}${text(p)}` }))
  ]
}

export type Verdict = 'protected' | 'stale' | 'dry-run' | 'act'

/** For one matched user, in order: protected, stale, dry run, act. */
export function decide (policy: Policy, user: FusionAuthUser, exposureAt: number | undefined): { verdict: Verdict, detail?: string } {
  if (policy.protectedUsers.includes(user.id.toLowerCase()) || (user.email !== undefined && policy.protectedUsers.includes(user.email))) {
    return { verdict: 'protected', detail: 'protected user' }
  }
  const group = user.groupIds?.find(g => policy.protectedGroupIds.includes(g.toLowerCase()))
  if (group !== undefined) return { verdict: 'protected', detail: `member of protected group ${group}` }
  if (policy.skipIfPasswordChangedAfterExposure && exposureAt !== undefined &&
      user.passwordLastUpdateInstant !== undefined && user.passwordLastUpdateInstant > exposureAt) {
    return { verdict: 'stale', detail: 'password changed after the exposure' }
  }
  if (policy.dryRun) return { verdict: 'dry-run', detail: 'dry run: planned, not done' }
  return { verdict: 'act' }
}

// ── BRIDGE_POLICY_FILE ─────────────────────────────────────────────────────────────────────────────────────

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const stringList = z.union([z.string(), z.array(z.string())]).transform(v => typeof v === 'string' ? v.split(',').map(x => x.trim()).filter(x => x !== '') : v)
const actionList = stringList.transform((v, ctx) => {
  const r = parseActionList(v, { quote: true })
  for (const message of r.problems) ctx.addIssue({ code: 'custom', message })
  return r.problems.length > 0 ? z.NEVER : r.actions
})
const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  if (v === 'none' || v === 'off' || v === 0 || v === '0') return null
  const ms = typeof v === 'number' ? undefined : parseDuration(v)
  if (ms === undefined) { ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a duration: write one like 72h or 3d, or none` }); return z.NEVER }
  return ms
})
const groupIds = stringList.superRefine((v, ctx) => {
  for (const [i, g] of v.entries()) if (!UUID.test(g)) ctx.addIssue({ code: 'custom', message: `entry ${i + 1} ${JSON.stringify(g)} is not a group id (a UUID)` })
})
const policySchema = z.strictObject({
  name: z.string().optional(),
  actions: actionList.optional(),
  gracePeriod: duration.optional(),
  graceActions: actionList.optional(),
  protectedUsers: stringList.optional(),
  protectedGroupIds: groupIds.optional(),
  dryRun: z.boolean().optional(),
  skipIfPasswordChangedAfterExposure: z.boolean().optional()
})
// Tenant ids are checked beside the schema (tenantIdProblems), not as the record's key: the policy under a bad id is
// still checked, and a bad id is reported beside every other problem.
const fileSchema = z.strictObject({
  default: policySchema.optional(),
  tenants: z.record(z.string(), policySchema).optional()
})

function tenantIdProblems (raw: unknown, label: string): string[] {
  const tenants = typeof raw === 'object' && raw !== null ? (raw as { tenants?: unknown }).tenants : undefined
  if (typeof tenants !== 'object' || tenants === null || Array.isArray(tenants)) return []
  return Object.keys(tenants).filter(id => !UUID.test(id))
    .map(id => `${label}: tenants.${id}: ${JSON.stringify(id)} is not a tenant id: tenant ids are UUIDs (FusionAuth → Tenants)`)
}

const KEYS = { file: Object.keys(fileSchema.shape), policy: Object.keys(policySchema.shape) }
const WHAT: Record<string, string> = { boolean: 'true or false', string: 'text', array: 'a list', object: 'a mapping (key: value)' }

/** Every problem of one zod issue, in the file's words: the value quoted, an unknown key with the closest known one. */
function issueProblems (i: z.core.$ZodIssue, label: string): string[] {
  const at = `${label}: ${i.path.length === 0 ? '(top level)' : i.path.join('.')}`
  if (i.code === 'unrecognized_keys') {
    const known = i.path.length === 0 ? KEYS.file : KEYS.policy
    return i.keys.map(k => {
      const closest = closestName(k, known)
      return `${at}: unknown key ${JSON.stringify(k)}${closest === undefined ? '' : `: did you mean ${closest}?`} (known: ${known.join(', ')})`
    })
  }
  if (i.code === 'invalid_type') return [`${at}: ${JSON.stringify(i.input) ?? 'nothing'} is not ${WHAT[i.expected] ?? i.expected}`]
  if (i.code === 'invalid_union') return [`${at}: ${JSON.stringify(i.input) ?? 'nothing'} is not a list or a comma-separated text`]
  return [`${at}: ${i.message}`]
}

type PolicyInput = z.infer<typeof policySchema>

function overlay (base: Policy, over: PolicyInput | undefined, where: string): Policy & { name?: string } {
  if (over === undefined) return base
  const from = base.origin ?? ENV_ORIGIN
  return {
    origin: {
      actions: over.actions === undefined ? from.actions : `${where}.actions`,
      graceActions: over.graceActions === undefined ? from.graceActions : `${where}.graceActions`,
      protectedGroupIds: over.protectedGroupIds === undefined ? from.protectedGroupIds : `${where}.protectedGroupIds`
    },
    name: over.name,
    actions: over.actions ?? base.actions,
    graceMs: over.gracePeriod === undefined ? base.graceMs : over.gracePeriod ?? undefined,
    graceActions: over.graceActions ?? base.graceActions,
    protectedUsers: over.protectedUsers?.map(u => u.trim().toLowerCase()) ?? base.protectedUsers,
    protectedGroupIds: over.protectedGroupIds?.map(g => g.toLowerCase()) ?? base.protectedGroupIds,
    dryRun: over.dryRun ?? base.dryRun,
    skipIfPasswordChangedAfterExposure: over.skipIfPasswordChangedAfterExposure ?? base.skipIfPasswordChangedAfterExposure
  }
}

/** The rules a policy must keep, wherever it comes from. */
export function policyProblems (p: Policy, where: string): string[] {
  const out: string[] = []
  if (p.actions.length === 0 && p.graceActions.length === 0) out.push(`${where}: no actions: nothing would be done`)
  if (p.graceActions.length > 0 && p.graceMs === undefined) out.push(`${where}: grace actions need a grace period`)
  if (p.graceMs !== undefined && p.graceActions.length === 0) out.push(`${where}: a grace period needs grace actions (what happens when it ends)`)
  return out
}

/**
 * BRIDGE_POLICY_FILE (YAML or JSON): the environment's policy overlaid by `default`, then by `tenants.<id>`.
 * Every problem names the file, the path inside it, and what is wrong.
 */
export function loadPolicies (file: string | undefined, env: Policy): { policies: Policies, problems: string[] } {
  const none = { policies: { default: env, tenants: new Map() }, problems: [] as string[] }
  if (file === undefined) return { ...none, problems: policyProblems(env, 'policy') }
  const label = `BRIDGE_POLICY_FILE ${file}`
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    return { ...none, problems: [`${label}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`] }
  }
  const doc = parseDocument(text, { prettyErrors: true })
  if (doc.errors.length > 0) {
    // Whole: the message with the line it points at (yaml's own code frame).
    return { ...none, problems: doc.errors.map(e => `${label}: not YAML or JSON: ${e.message.trimEnd()}`) }
  }
  const raw: unknown = doc.toJS() ?? {}
  const r = fileSchema.safeParse(raw, { reportInput: true })
  const bad = [...tenantIdProblems(raw, label), ...(r.success ? [] : r.error.issues.flatMap(i => issueProblems(i, label)))]
  if (!r.success || bad.length > 0) return { ...none, problems: bad }
  const def = overlay(env, r.data.default, `${label}: default`)
  const tenants = new Map(Object.entries(r.data.tenants ?? {}).map(([id, p]) => [id.toLowerCase(), overlay(def, p, `${label}: tenants.${id}`)]))
  const problems = [...policyProblems(def, `${label}: default`), ...[...tenants].flatMap(([id, p]) => policyProblems(p, `${label}: tenants.${id}`))]
  return { policies: { default: def, tenants, file }, problems }
}
