import { readFileSync } from 'node:fs'
import { ACTIONS } from '../remediation/actions/index.js'
import { allActions, loadPolicies, type Policies } from '../remediation/policy.js'
import { Bad } from './parsers.js'
import { SECRET_VARIABLES, VARIABLES, type Requirement, type Values, type Variable } from './variables.js'
import { BridgeError } from '../errors.js'

/** The operator digest: where, how often, signed with what (Standard Webhooks). */
export interface NotifySettings { readonly url: string, readonly intervalMs: number, readonly secret?: string }

/**
 * The whole configuration, frozen. It is read at the edge only (server.ts, the CLI's context, `check`): each
 * part of the bridge receives its own options, built from it in parts.ts.
 */
export interface Config extends Readonly<Omit<Values, 'notifyUrl' | 'notifyIntervalMs' | 'notifySecret'>> {
  /** The environment's policy overlaid by BRIDGE_POLICY_FILE (default and per tenant). */
  readonly policies: Policies
  readonly notify?: NotifySettings
}

export class ConfigError extends BridgeError {
  readonly code = 'BRIDGE_CONFIG'
  constructor (readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map(p => `  - ${p.replace(/\n/g, '\n    ')}`).join('\n')}`)
  }

  override toJSON (): Record<string, unknown> {
    return { ...super.toJSON(), problems: this.problems }
  }
}

/**
 * Reads `NAME_FILE` for every secret that is not set directly. Returns a copy of env.
 * Problems (both set, unreadable file) are appended to `problems`.
 */
function resolveSecretFiles (env: NodeJS.ProcessEnv, problems: string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env }
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`]
    if (file === undefined || file === '') continue
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`${name} and ${name}_FILE are both set: use one`)
      continue
    }
    try {
      out[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
    } catch (err) {
      problems.push(`${name}_FILE: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  return out
}

/** A secret as the configuration reads it: `NAME`, else the file `NAME_FILE` names (undefined: neither, or unreadable). */
export function secretValue (env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name]
  if (direct !== undefined && direct !== '') return direct
  const file = env[`${name}_FILE`]
  if (file === undefined || file === '') return undefined
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '')
  } catch {
    return undefined
  }
}

/** Every variable of the table, parsed; a bad value is a problem naming the variable (never the value). */
function readVariables (get: (name: string) => string | undefined, problems: string[]): Values {
  const values: Record<string, unknown> = {}
  for (const v of VARIABLES as ReadonlyArray<Variable>) {
    const given = get(v.name)
    const text = given ?? v.default
    if (text === undefined) { values[v.key] = v.whenAbsent; continue }
    const r = v.parse(text)
    if (!(r instanceof Bad)) { values[v.key] = r; continue }
    problems.push(`${v.name}: ${r.message}`)
    // The default stands in, so the rules that depend on this value do not report a second, derived problem.
    const fallback = given === undefined || v.default === undefined ? undefined : v.parse(v.default)
    values[v.key] = fallback instanceof Bad ? undefined : fallback
  }
  return values as unknown as Values
}

/** Rules that tie several variables together, and what each command requires. */
function crossChecks (c: Values, policies: Policies, get: (name: string) => string | undefined, require: readonly Requirement[], problems: string[]): void {
  if (c.payloadEncryption !== 'off' && c.payloadKey === undefined && get('ENZOIC_PAYLOAD_KEY') === undefined) {
    problems.push(`ENZOIC_PAYLOAD_KEY: required when ENZOIC_PAYLOAD_ENCRYPTION is ${c.payloadEncryption}`)
  }
  if (c.clientCert === 'direct') {
    for (const name of ['TLS_CERT_FILE', 'TLS_KEY_FILE', 'ENZOIC_CLIENT_CA_FILE']) {
      if (get(name) === undefined) problems.push(`${name}: required when ENZOIC_CLIENT_CERT is direct`)
    }
  }
  // FusionAuth requires the commenter / actioner to be an existing user.
  const needActor = [...new Set(allActions(policies).map(a => a.name).filter(n => ACTIONS.get(n)?.needs?.actor === true))]
  if (needActor.length > 0 && c.actorUserId === undefined && get('FUSIONAUTH_ACTOR_USER_ID') === undefined) {
    problems.push(`FUSIONAUTH_ACTOR_USER_ID: required by the ${needActor.join(' and ')} action${needActor.length > 1 ? 's' : ''}`)
  }
  if (c.notifySecret !== undefined && get('BRIDGE_NOTIFY_URL') === undefined) problems.push('BRIDGE_NOTIFY_SECRET: set without BRIDGE_NOTIFY_URL')
  if (c.notifySecret !== undefined && /^whsec_/.test(c.notifySecret) && !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(c.notifySecret)) {
    problems.push('BRIDGE_NOTIFY_SECRET: a whsec_ secret must be Base64 after the prefix')
  }
  if (c.faWebhookSignature === 'required' && get('FUSIONAUTH_URL') === undefined && get('FUSIONAUTH_WEBHOOK_HMAC_KEY') === undefined) {
    problems.push('FUSIONAUTH_WEBHOOK_SIGNATURE: required needs FUSIONAUTH_URL (its published keys) or FUSIONAUTH_WEBHOOK_HMAC_KEY')
  }
  const messages: Record<Requirement, string> = {
    webhook: 'required (key:secret of the Enzoic webhook)',
    fusionauth: 'required',
    enzoic: 'required for Enzoic API commands'
  }
  for (const v of VARIABLES) {
    if (v.requiredFor !== undefined && require.includes(v.requiredFor) && get(v.name) === undefined) problems.push(`${v.name}: ${messages[v.requiredFor]}`)
  }
}

/**
 * Builds the frozen Config from the environment (and the policy file it names). Every problem is reported at
 * once, one line per variable, naming the variable and never its value.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env, require: readonly Requirement[] = []): Config {
  const problems: string[] = []
  const e = resolveSecretFiles(env, problems)
  const get = (name: string): string | undefined => {
    const v = e[name]
    return v === undefined || v.trim() === '' ? undefined : v
  }
  const values = readVariables(get, problems)
  // Policies: the environment's, overlaid by BRIDGE_POLICY_FILE per tenant.
  const envPolicy = {
    actions: values.actions ?? [],
    graceMs: values.graceMs,
    graceActions: values.graceActions ?? [],
    protectedUsers: values.protectedUsers ?? [],
    protectedGroupIds: [],
    dryRun: values.dryRun ?? false,
    skipIfPasswordChangedAfterExposure: values.skipIfPasswordChangedAfterExposure ?? false
  }
  const policy = loadPolicies(values.policyFile, envPolicy)
  problems.push(...policy.problems.map(p => p.startsWith('BRIDGE_POLICY_FILE') ? p : p.replace(/^policy: /, 'BRIDGE_ACTIONS/BRIDGE_GRACE_PERIOD/BRIDGE_GRACE_ACTIONS: ')))
  crossChecks(values, policy.policies, get, require, problems)
  if (problems.length > 0) throw new ConfigError(problems)

  const { notifyUrl, notifyIntervalMs, notifySecret, ...rest } = values
  const notify = notifyUrl === undefined ? undefined : { url: notifyUrl, intervalMs: notifyIntervalMs, secret: notifySecret }
  return Object.freeze({ ...rest, policies: policy.policies, notify })
}
