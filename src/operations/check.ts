/**
 * `breach-bridge check`: a doctor that never says OK falsely. Every check is one line (OK, FAIL, WARN or
 * SKIP); every problem is reported in one run (a configuration problem does not stop the FusionAuth
 * checks); nothing changes in FusionAuth or Enzoic; no secret, and no URL with credentials in it, is
 * ever part of a line.
 *
 * FusionAuth is first proven to be FusionAuth, by answers only FusionAuth gives (a static file server
 * answers 404 to everything, which would otherwise read as "the key may call this"), then probed for what
 * the worker and the commands will need: the tenant list when several tenants exist, each permission of the
 * configured actions, the user search of `monitor sync`, the actor user, the groups and user actions
 * named in BRIDGE_ACTIONS.
 */
import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { ConfigError, loadConfig, secretValue, VARIABLES, type Config } from '../config/index.js'
import { createEnzoicClient } from '../enzoic/client.js'
import { checkFusionAuthEvents } from './check-events.js'
import { createFusionAuthGateway, describeEndpoint, errorCodes, FusionAuthError, type FusionAuthGateway, type FusionAuthProbes, type InspectAnswer } from '../fusionauth/index.js'
import { describeDatabase, isPostgresUrl, openStore } from '../store/index.js'
import { DatabaseConfigError } from '../store/types.js'
import { probeNotifyUrl, shownNotifyUrl } from './notify.js'
import { unknownVariables } from '../config/index.js'
import { ACTIONS, permissionsFor, type ActionModule, type ActionSpec } from '../remediation/actions/index.js'
import { actionsNamedIn, allActions, describePolicies, protectedGroupsNamedIn, type NamedIn } from '../remediation/policy.js'

export { describePolicies }

/** INFO: worth knowing, nothing to fix (e.g. which FusionAuth events need a paid plan). */
export type Level = 'OK' | 'FAIL' | 'WARN' | 'SKIP' | 'INFO'
export interface CheckLine { level: Level, what: string, detail: string }
export interface CheckReport {
  /** No FAIL. */
  ok: boolean
  checks: CheckLine[]
}

export interface CheckOptions {
  /** Per request to FusionAuth and Enzoic; default: FUSIONAUTH_TIMEOUT_MS, 10 s for Enzoic. */
  timeoutMs?: number
}

/** A URL as it may be printed: any user:password replaced by `***:***`. */
export function safeUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.username === '' && u.password === '') return url
    u.username = '***'
    u.password = '***'
    return u.toString().replace(/\/$/, url.endsWith('/') ? '/' : '')
  } catch {
    return '(a URL that cannot be parsed)'
  }
}

const COMMON = ['password', 'passwort', 'secret', 'changeme', 'letmein', 'enzoic', 'webhook', 'qwerty', 'admin', '123456', 'abcdef']

/** Why a webhook secret is weak, or undefined. Never returns (part of) the secret. */
export function secretWeakness (secret: string): string | undefined {
  if (secret.length < 16) return `is short (${secret.length} characters): use at least 16, better 32 random characters`
  const counts = new Map<string, number>()
  for (const c of secret) counts.set(c, (counts.get(c) ?? 0) + 1)
  let bitsPerChar = 0
  for (const n of counts.values()) { const p = n / secret.length; bitsPerChar -= p * Math.log2(p) }
  const lower = secret.toLowerCase()
  if (counts.size < 8 || bitsPerChar * secret.length < 64 || COMMON.some(w => lower.includes(w))) {
    return 'has low entropy (repetitive, or built from common words): use a long random secret'
  }
  return undefined
}

/** Placeholder so the FusionAuth checks can run when FUSIONAUTH_ACTOR_USER_ID is the problem. */
const PLACEHOLDER_USER = '00000000-0000-0000-0000-000000000000'

/** Fixes that let a configuration with problems still load, so the checks that do not depend on them run. */
const WORKAROUNDS: Record<string, (e: NodeJS.ProcessEnv) => void> = {
  ENZOIC_PAYLOAD_KEY: e => { delete e.ENZOIC_PAYLOAD_ENCRYPTION },
  TLS_CERT_FILE: e => { delete e.ENZOIC_CLIENT_CERT },
  TLS_KEY_FILE: e => { delete e.ENZOIC_CLIENT_CERT },
  ENZOIC_CLIENT_CA_FILE: e => { delete e.ENZOIC_CLIENT_CERT },
  FUSIONAUTH_ACTOR_USER_ID: e => { e.FUSIONAUTH_ACTOR_USER_ID = PLACEHOLDER_USER }
}

const variableOf = (problem: string): string | undefined => /^([A-Z][A-Z0-9_]*)\b/.exec(problem)?.[1]

/**
 * The configuration as `serve` needs it; when it has problems, every problem, plus the configuration that
 * loads once the variables at fault are set aside (their defaults), and their names.
 */
export function configForChecks (env: NodeJS.ProcessEnv): { config?: Config, problems: string[], broken: Set<string> } {
  const broken = new Set<string>()
  let problems: string[]
  try {
    return { config: loadConfig(env, ['webhook', 'fusionauth']), problems: [], broken }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    problems = err.problems
  }
  for (const p of problems) { const v = variableOf(p); if (v !== undefined) broken.add(v) }
  const e: NodeJS.ProcessEnv = { ...env }
  for (let round = 0; round < 10; round++) {
    try {
      return { config: loadConfig(e, []), problems, broken }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      let changed = false
      for (const p of err.problems) {
        const name = variableOf(p)
        if (name === undefined) continue
        broken.add(name)
        if (/both set/.test(p) && e[`${name}_FILE`] !== undefined) { delete e[`${name}_FILE`]; changed = true } else if (e[name] !== undefined) { delete e[name]; changed = true } else if (WORKAROUNDS[name] !== undefined) { WORKAROUNDS[name](e); changed = true }
      }
      if (!changed) break
    }
  }
  return { problems, broken }
}

/**
 * Every secret value this run could meet, to be scrubbed from any line (a last line of defence): derived from the
 * variables table — each secret variable, given directly or as `NAME_FILE`, in the parts its declaration names
 * secret — plus any password in the URLs of the services it calls.
 */
export function secretsOf (env: NodeJS.ProcessEnv, config?: Config): string[] {
  const out = new Set<string>()
  const add = (s: string | undefined): void => { if (s !== undefined && s.length >= 3) out.add(s) }
  for (const v of VARIABLES) {
    if (v.secret !== true) continue
    const value = secretValue(env, v.name)
    if (value !== undefined) for (const part of v.secretParts?.(value) ?? [value]) add(part)
  }
  for (const url of [env.FUSIONAUTH_URL, env.ENZOIC_API_URL, config?.fusionAuthUrl, config?.enzoicApiUrl]) {
    if (url === undefined) continue
    try {
      const u = new URL(url)
      add(u.password)
      try { add(decodeURIComponent(u.password)) } catch {}
    } catch {}
  }
  return [...out].sort((a, b) => b.length - a.length)
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

const describe = (a: InspectAnswer): string =>
  a.status === undefined
    ? `no answer (${a.error ?? 'error'})`
    : `${a.status}${a.contentType === undefined || a.contentType === '' ? '' : ` ${a.contentType.split(';')[0]}`}${(a.bodyBytes ?? 0) > 0 && a.json === undefined ? `, ${a.bodyBytes} bytes` : ''}`

interface Identity { ok: boolean, detail: string, statusWarning?: string }

/**
 * Whether the server at FUSIONAUTH_URL is FusionAuth and takes the key. Evidence, any of:
 * - `GET /api/system/version` answers `{"version": "…"}` (with the key);
 * - `GET /api/user/<not a UUID>` answers FusionAuth's `[couldNotConvert]userId` error (with the key);
 * - `GET /api/status` (anonymous) answers a JSON object AND `GET /api/user/<random id>` answers 404 with an
 *   empty body, as FusionAuth's "not found" is.
 */
async function identify (gw: FusionAuthProbes, shown: string): Promise<Identity> {
  const [status, version, convert, lookup] = await Promise.all([
    gw.inspect({ path: '/api/status', anonymous: true }),
    gw.inspect({ path: '/api/system/version' }),
    gw.inspect({ path: '/api/user/bridge-check' }),
    gw.inspect({ path: `/api/user/${randomUUID()}` })
  ])
  if (lookup.status === undefined && status.status === undefined) {
    return { ok: false, detail: `cannot reach ${shown} (${lookup.error ?? status.error ?? 'error'}): check FUSIONAUTH_URL and the network` }
  }
  const versionText = version.status === 200 && isObject(version.json) && typeof version.json.version === 'string' ? version.json.version : undefined
  const converts = convert.status === 400 && errorCodes(convert.json).some(c => c.startsWith('[couldNotConvert]'))
  const statusJson = status.status !== undefined && isObject(status.json)
  const emptyNotFound = lookup.status === 404 && (lookup.bodyBytes ?? 0) === 0
  const isFusionAuth = versionText !== undefined || converts || (statusJson && status.status! < 300 && emptyNotFound)
  const statusWarning = statusJson && status.status! >= 300
    ? `GET /api/status answered ${status.status}: FusionAuth reports a problem (its database or search index?)`
    : undefined
  if (isFusionAuth) {
    if (versionText !== undefined || converts || emptyNotFound) {
      return { ok: true, detail: `${shown} is FusionAuth${versionText === undefined ? '' : ` ${versionText}`} and accepts the API key`, statusWarning }
    }
  }
  const refused = [version, convert, lookup].every(a => a.status === 401)
  if (refused && (statusJson || status.status === 401)) {
    return { ok: false, detail: `${shown} refused FUSIONAUTH_API_KEY (401 to every call): check the key (a new key can take a minute to work) and that it may call GET /api/user` }
  }
  return {
    ok: false,
    detail: `${shown} does not answer like FusionAuth (GET /api/status → ${describe(status)}; GET /api/user/{id} → ${describe(lookup)}): ` +
      'FUSIONAUTH_URL must be FusionAuth\'s base URL, e.g. https://auth.example.com'
  }
}

type Add = (level: Level, what: string, detail: string) => void

async function checkTenants (gw: FusionAuthGateway & FusionAuthProbes, config: Config, add: Add): Promise<void> {
  const email = `bridge-check-${randomUUID().slice(0, 8)}@check.invalid`
  const path = `/api/user?email=${encodeURIComponent(email)}`
  if (config.tenantIds !== undefined) {
    for (const tenantId of config.tenantIds) {
      const r = await gw.inspect({ path, tenantId })
      if (r.status === 404) add('OK', 'tenant', `${tenantId} (FUSIONAUTH_TENANT_IDS): users can be looked up in it`)
      else if (r.status === 401) add('FAIL', 'tenant', `${tenantId} (FUSIONAUTH_TENANT_IDS): the key may not look users up in it (401): a key bound to another tenant, or one without GET /api/user`)
      else if (r.status === 400) add('FAIL', 'tenant', `${tenantId} (FUSIONAUTH_TENANT_IDS): FusionAuth refused it (400 ${errorCodes(r.json).join(' ')}): is it a tenant id of this FusionAuth?`)
      else add('FAIL', 'tenant', `${tenantId} (FUSIONAUTH_TENANT_IDS): a lookup answered ${describe(r)}`)
    }
    return
  }
  const r = await gw.inspect({ path })
  if (r.status === 404) {
    add('OK', 'tenants', 'email lookups need no tenant header (one tenant, or a key bound to one): GET /api/tenant is not needed')
    return
  }
  if (r.status === 401) {
    add('SKIP', 'tenants', 'not checked: the key may not look users up (see permission lookup)')
    return
  }
  if (r.status !== 400 || !errorCodes(r.json).includes('[TenantIdRequired]')) {
    add('WARN', 'tenants', `a lookup by email without tenant header answered ${describe(r)}`)
    return
  }
  const list = await gw.inspect({ path: '/api/tenant' })
  const tenants = isObject(list.json) && Array.isArray(list.json.tenants) ? list.json.tenants.length : undefined
  if (list.status === 200 && tenants !== undefined) {
    add('OK', 'tenants', `${tenants} tenants: each email is looked up in every one, and the key may list them (GET /api/tenant)`)
  } else if (list.status === 401) {
    add('FAIL', 'tenants', 'several tenants, and the key may not list them (GET /api/tenant → 401): the worker would pause at the first alert. ' +
      'Allow GET /api/tenant for the key, or set FUSIONAUTH_TENANT_IDS')
  } else {
    add('FAIL', 'tenants', `several tenants, and GET /api/tenant answered ${describe(list)}: set FUSIONAUTH_TENANT_IDS`)
  }
}

async function checkFusionAuth (config: Config, broken: Set<string>, add: Add, timeoutMs: number): Promise<void> {
  const shown = safeUrl(config.fusionAuthUrl!)
  const gw = createFusionAuthGateway({ url: config.fusionAuthUrl!, apiKey: config.fusionAuthApiKey!, timeoutMs, tenantIds: config.tenantIds })
  try {
    const id = await identify(gw, shown)
    if (!id.ok) {
      add('FAIL', 'FusionAuth', id.detail)
      add('SKIP', 'FusionAuth checks', 'tenants, permissions, actor, groups and user actions not checked: FusionAuth must answer first')
      return
    }
    add('OK', 'FusionAuth', id.detail)
    if (id.statusWarning !== undefined) add('WARN', 'FusionAuth health', id.statusWarning)

    await checkTenants(gw, config, add)

    await checkPermissions(gw, config, add)
    if (config.actorUserId !== undefined && !broken.has('FUSIONAUTH_ACTOR_USER_ID')) await checkActor(gw, config.actorUserId, add)
    for (const a of actionsNamedIn(config.policies)) await checkActionId(gw, a, add)
    for (const g of protectedGroupsNamedIn(config.policies)) await checkProtectedGroup(gw, g, add)
    await checkPolicyTenants(gw, config, add)
  } finally {
    await gw.close()
  }
}

/**
 * Every permission the policies' actions need, to run and to undo (`alerts restore`), plus the lookups: each
 * probed without changing anything. The search of `monitor sync` is a WARN (the worker does not need it).
 */
async function checkPermissions (gw: FusionAuthGateway, config: Config, add: Add): Promise<void> {
  for (const p of permissionsFor(allActions(config.policies).map(a => a.name))) {
    const endpoint = p.endpoints[0]!
    const r = await gw.mayCall(endpoint)
    const restoreOnly = p.usedBy.every(u => u.startsWith('alerts restore'))
    const confirmOnly = p.usedBy.every(u => u.startsWith('resuming '))
    if (r.allowed) add('OK', `permission ${p.label}`, `${describeEndpoint(endpoint)} allowed`)
    else if (confirmOnly) add('WARN', `permission ${p.label}`, `${describeEndpoint(endpoint)}: ${r.detail ?? 'refused'}: after a crash mid-call the action is repeated instead of checked first (${p.usedBy.join(', ')})`)
    else if (restoreOnly) add('FAIL', `permission ${p.label}`, `${describeEndpoint(endpoint)}: ${r.detail ?? 'refused'}: \`alerts restore\` would stop halfway (${p.usedBy.join(', ')})`)
    else add('FAIL', `permission ${p.label}`, `${describeEndpoint(endpoint)}: ${r.detail ?? 'refused'}`)
  }
  const [search] = permissionsFor([], { search: true }).filter(p => p.label === 'search')
  const r = await gw.mayCall(search!.endpoints[0]!)
  if (r.allowed) add('OK', 'permission search', 'POST /api/user/search allowed (enzoic monitor sync)')
  else add('WARN', 'permission search', `POST /api/user/search: ${r.detail ?? 'refused'}: \`enzoic monitor sync\` needs it`)
}

async function checkActor (gw: FusionAuthGateway, actorUserId: string, add: Add): Promise<void> {
  try {
    const actor = await gw.getUser(actorUserId)
    if (actor !== undefined) add('OK', 'actor user', `FUSIONAUTH_ACTOR_USER_ID ${actor.email ?? actor.id} exists`)
    else add('FAIL', 'actor user', `FUSIONAUTH_ACTOR_USER_ID ${actorUserId}: no such user (FusionAuth requires the commenter/actioner to exist)`)
  } catch (err) {
    add('FAIL', 'actor user', `FUSIONAUTH_ACTOR_USER_ID ${actorUserId}: ${(err as Error).message}`)
  }
}

type IdLookup = NonNullable<NonNullable<ActionModule['takesId']>['lookup']>
type Found = { exists: true, detail: string, ok: boolean } | { exists: false } | { exists: undefined, auth: boolean, detail: string }

/** Whether FusionAuth has the thing `lookup` finds (404: no such thing), read-only. */
async function lookUp (gw: FusionAuthGateway, lookup: IdLookup, id: string): Promise<Found> {
  const param = /\{([^}]+)\}/.exec(lookup.endpoint.path)![1]!
  try {
    const verdict = lookup.judge(await gw.call<Record<string, unknown>>(lookup.endpoint, { params: { [param]: id } }))
    return { exists: true, ok: verdict.ok, detail: verdict.detail }
  } catch (err) {
    if (err instanceof FusionAuthError && err.kind === 'not-found') return { exists: false }
    const auth = err instanceof FusionAuthError && err.kind === 'auth'
    return { exists: undefined, auth, detail: auth ? `the key may not call ${describeEndpoint(lookup.endpoint)} (401)` : (err as Error).message }
  }
}

/** "fix BRIDGE_ACTIONS", or the policy file's path and entry: wherever the id is written. */
const fix = (from: readonly string[]): string => `fix ${from.join(' and ')}`

/**
 * The id an action names (`group:<id>`, `notify-user:<template>`…) exists, as its module's `lookup` finds it; a
 * FAIL says where the id is written.
 */
async function checkActionId (gw: FusionAuthGateway, { value: a, from }: NamedIn<ActionSpec>, add: Add): Promise<void> {
  const takesId = ACTIONS.get(a.name)?.takesId
  const lookup = takesId?.lookup
  if (takesId === undefined || lookup === undefined || a.id === undefined) return
  const noun = takesId.what.replace(/ id$/, '')
  const found = await lookUp(gw, lookup, a.id)
  if (found.exists === true) add(found.ok ? 'OK' : 'FAIL', a.label, found.detail)
  else if (found.exists === false) add('FAIL', a.label, `no such ${noun}: every alert would fail with 400 and go dead — ${fix(from)}`)
  else if (found.auth) add('WARN', a.label, `cannot tell whether the ${noun} exists: ${found.detail}; allow it, or check the id in FusionAuth's admin UI (${from.join(', ')})`)
  else add('FAIL', a.label, `cannot tell whether the ${noun} exists: ${found.detail}`)
}

/** Each protected group of the policies exists: a misspelt id protects no one (its members would be actioned). */
async function checkProtectedGroup (gw: FusionAuthGateway, { value: groupId, from }: NamedIn<string>, add: Add): Promise<void> {
  const what = `protected group ${groupId}`
  const found = await lookUp(gw, ACTIONS.get('group')!.takesId!.lookup!, groupId)
  if (found.exists === true) add('OK', what, `${found.detail}: its members are never actioned`)
  else if (found.exists === false) add('FAIL', what, `no such group: its members are NOT protected, they would be actioned — ${fix(from)}`)
  else if (found.auth) add('WARN', what, `cannot tell whether the group exists: ${found.detail}; allow it, or check the id in FusionAuth's admin UI (${from.join(', ')})`)
  else add('FAIL', what, `cannot tell whether the group exists: ${found.detail}`)
}

/**
 * Each tenant of BRIDGE_POLICY_FILE exists (a misspelt id means its policy silently never applies), tried as the
 * worker looks users up in it (the tenant header: needs only GET /api/user); and is one the bridge looks in.
 */
async function checkPolicyTenants (gw: FusionAuthGateway & FusionAuthProbes, config: Config, add: Add): Promise<void> {
  const file = config.policies.file
  if (file === undefined || config.policies.tenants.size === 0) return
  // Names when the key may list tenants (optional: the lookups below need only GET /api/user).
  const names = new Map((await gw.listTenants().catch(() => [])).map(t => [t.id.toLowerCase(), t.name]))
  const path = `/api/user?email=${encodeURIComponent(`bridge-check-${randomUUID().slice(0, 8)}@check.invalid`)}`
  for (const [tenantId, policy] of config.policies.tenants) {
    const name = names.get(tenantId) ?? policy.name
    const shown = `${tenantId}${name === undefined ? '' : ` (${name})`}`
    const where = `BRIDGE_POLICY_FILE ${file}: tenants.${tenantId}`
    const r = await gw.inspect({ path, tenantId })
    if (r.status === 400) add('FAIL', 'policy tenant', `${shown}: no such tenant in FusionAuth (400 ${errorCodes(r.json).join(' ')}): its policy never applies — fix ${where}`)
    else if (r.status === 401) add('FAIL', 'policy tenant', `${shown}: the key may not look users up in it (401): a key bound to another tenant? (${where})`)
    else if (r.status !== 404) add('FAIL', 'policy tenant', `${shown}: a lookup answered ${describe(r)} (${where})`)
    else if (config.tenantIds !== undefined && !config.tenantIds.includes(tenantId)) {
      add('WARN', 'policy tenant', `${shown}: exists, but is not in FUSIONAUTH_TENANT_IDS: the bridge never looks there, so its policy never applies (${where})`)
    } else add('OK', 'policy tenant', `${shown}: exists; its policy applies to its users`)
  }
}

async function checkEnzoic (config: Config, add: Add, timeoutMs: number): Promise<void> {
  const api = createEnzoicClient({ baseUrl: config.enzoicApiUrl, apiKey: config.enzoicApiKey!, apiSecret: config.enzoicApiSecret!, retries: 0, timeoutMs })
  try {
    const page = await api.listMonitoredUsers({ pageSize: 1 })
    add('OK', 'Enzoic API', `${safeUrl(config.enzoicApiUrl)} accepts ENZOIC_API_KEY/ENZOIC_API_SECRET; ${page.count} user(s) monitored`)
  } catch (err) {
    add('FAIL', 'Enzoic API', (err as Error).message)
  } finally {
    await api.close()
  }
}

type IsBroken = (...names: string[]) => boolean

/** The database, opened as `serve` opens it (a new SQLite file or an empty PostgreSQL database gets the schema). */
async function checkDatabase (config: Config, isBroken: IsBroken, add: Add): Promise<void> {
  const where = describeDatabase(config.database)
  if (isBroken('BRIDGE_DATABASE')) {
    add('SKIP', 'database', 'not checked: BRIDGE_DATABASE has a problem (above)')
    return
  }
  try {
    const created = !isPostgresUrl(config.database) && !existsSync(config.database)
    const store = await openStore(config.database, { role: 'serve' })
    try {
      await store.ping()
      const counts = await store.alerts.countByState()
      add('OK', 'database', `${store.kind} ${where}${created ? ' (created)' : ''}: commits; ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`)
    } finally {
      await store.close()
    }
  } catch (err) {
    const message = (err as Error).message
    const cause = ((err as Error).cause as Error | undefined)?.message
    add('FAIL', 'database', `${message.includes(where) ? '' : `${where}: `}${message}${cause === undefined || message.includes(cause) || err instanceof DatabaseConfigError ? '' : ` (${cause})`}`)
  }
}

/** BRIDGE_TOMBSTONE_KEY: without it a purged alert's tombstone can be matched against a list of emails. */
function checkTombstoneKey (config: Config, isBroken: IsBroken, add: Add): void {
  if (isBroken('BRIDGE_TOMBSTONE_KEY')) add('SKIP', 'tombstone key', 'not checked: BRIDGE_TOMBSTONE_KEY has a problem (above)')
  else if (config.tombstoneKey === undefined) {
    add('WARN', 'tombstone key', 'BRIDGE_TOMBSTONE_KEY is not set: a purged alert\'s tombstone keeps the plain SHA-256 of its exposure id, email and customData, ' +
      'which anyone holding the database (or a backup) can match against a list of emails. Set a random key kept outside the database ' +
      '(base64: and `openssl rand -base64 32`) for serve and alerts purge; the next purge keys the tombstones made before')
  } else {
    add('OK', 'tombstone key', `${config.tombstoneKey.length} bytes: tombstones hold HMAC-SHA256 under it. Keep it apart from the database and its backups; ` +
      'lost or changed, re-deliveries of alerts purged before are no longer recognised')
  }
}

/** What intake needs besides the credentials: payload encryption and the client certificate. */
function checkIntake (config: Config, isBroken: IsBroken, add: Add): void {
  if (isBroken('ENZOIC_PAYLOAD_ENCRYPTION', 'ENZOIC_PAYLOAD_KEY', 'ENZOIC_PAYLOAD_CIPHER')) {
    add('SKIP', 'payload encryption', 'not checked: a problem above')
  } else {
    add('OK', 'payload encryption', config.payloadEncryption === 'off' ? 'off' : `${config.payloadEncryption}, AES-${config.payloadKey!.length * 8}-${config.payloadCipher}`)
  }

  if (isBroken('ENZOIC_CLIENT_CERT', 'ENZOIC_CLIENT_CERT_CN', 'TRUSTED_PROXIES', 'TLS_CERT_FILE', 'TLS_KEY_FILE', 'ENZOIC_CLIENT_CA_FILE')) {
    add('SKIP', 'client certificate', 'not checked: a problem above')
  } else if (config.clientCert === 'off') {
    add('WARN', 'client certificate', 'off: Basic auth only (set ENZOIC_CLIENT_CERT=proxy behind nginx)')
  } else if (config.clientCert === 'proxy') {
    add('OK', 'client certificate', `proxy: nginx verdict headers trusted from ${config.trustedProxies.join(', ')}; CN must be ${config.clientCertCN}`)
  } else {
    try {
      createSecureContext({ cert: readFileSync(config.tlsCertFile!), key: readFileSync(config.tlsKeyFile!), ca: readFileSync(config.clientCaFile!) })
      add('OK', 'client certificate', `direct: TLS certificate, key and client CA load; CN must be ${config.clientCertCN}`)
    } catch (err) {
      add('FAIL', 'client certificate', `direct: cannot load TLS_CERT_FILE/TLS_KEY_FILE/ENZOIC_CLIENT_CA_FILE: ${(err as Error).message}`)
    }
  }
}

/** Every check, in order. Never throws for a problem it finds: that is a FAIL line. */
export async function runChecks (env: NodeJS.ProcessEnv, options: CheckOptions = {}): Promise<CheckReport> {
  const lines: CheckLine[] = []
  const add: Add = (level, what, detail) => { lines.push({ level, what, detail }) }

  for (const u of unknownVariables(env)) {
    add('WARN', 'environment', `${u.name} is set, but the bridge reads no such variable (it is ignored)${u.closest === undefined ? '' : `: did you mean ${u.closest}?`}`)
  }

  const { config, problems, broken } = configForChecks(env)
  const secrets = secretsOf(env, config)
  const done = (): CheckReport => {
    const checks = lines.map(l => ({ ...l, detail: secrets.reduce((d, s) => d.split(s).join('***'), l.detail) }))
    return { ok: !checks.some(l => l.level === 'FAIL'), checks }
  }
  const isBroken: IsBroken = (...names) => names.some(n => broken.has(n) || broken.has(`${n}_FILE`))

  if (problems.length === 0 && config !== undefined) {
    add('OK', 'configuration', `${config.webhookCredentials.length} webhook credential pair(s)`)
    for (const line of describePolicies(config.policies)) add('OK', line.what, line.detail)
  }
  for (const p of problems) add('FAIL', 'configuration', p)
  if (config === undefined) {
    add('SKIP', 'everything else', 'the configuration does not load: fix the problems above')
    return done()
  }

  for (const [i, c] of config.webhookCredentials.entries()) {
    const weak = secretWeakness(c.secret)
    if (weak !== undefined) add('WARN', 'webhook secret', `pair ${i + 1} of ENZOIC_WEBHOOK_CREDENTIALS ${weak} (\`enzoic webhooks register\` makes a strong one)`)
  }
  for (const [i, s] of config.faWebhookSecrets.entries()) {
    const weak = secretWeakness(s.replace(/^(?:Bearer|Basic)\s+/i, ''))
    if (weak !== undefined) add('WARN', 'webhook secret', `value ${i + 1} of FUSIONAUTH_WEBHOOK_SECRET ${weak} (\`fusionauth webhooks register\` makes a strong one)`)
  }

  await checkDatabase(config, isBroken, add)
  checkTombstoneKey(config, isBroken, add)
  checkIntake(config, isBroken, add)

  if (config.fusionAuthUrl === undefined || config.fusionAuthApiKey === undefined || isBroken('FUSIONAUTH_URL', 'FUSIONAUTH_API_KEY', 'FUSIONAUTH_TENANT_IDS')) {
    add('SKIP', 'FusionAuth', 'not checked: FUSIONAUTH_URL and FUSIONAUTH_API_KEY must be set and valid (above)')
  } else {
    await checkFusionAuth(config, broken, add, options.timeoutMs ?? config.fusionAuthTimeoutMs)
  }

  if (config.notify !== undefined) {
    const r = await probeNotifyUrl(config.notify.url, options.timeoutMs ?? 10_000)
    const how = config.notify.secret === undefined ? 'unsigned (BRIDGE_NOTIFY_SECRET not set)' : 'signed'
    add(r.ok ? 'OK' : 'FAIL', 'digest', `BRIDGE_NOTIFY_URL ${shownNotifyUrl(config.notify.url)}: ${r.detail}; messages ${how}` +
      `${r.ok ? ' (`breach-bridge notify test` sends one)' : ''}`)
  } else if (isBroken('BRIDGE_NOTIFY_URL')) {
    add('SKIP', 'digest', 'not checked: BRIDGE_NOTIFY_URL has a problem (above)')
  }

  if (config.enzoicApiKey === undefined || config.enzoicApiSecret === undefined || isBroken('ENZOIC_API_URL', 'ENZOIC_API_KEY', 'ENZOIC_API_SECRET')) {
    add('SKIP', 'Enzoic API', 'not checked: ENZOIC_API_KEY and ENZOIC_API_SECRET are not both set (needed by the `enzoic` commands and for exposure details)')
  } else {
    await checkEnzoic(config, add, options.timeoutMs ?? 10_000)
  }

  const fusionAuthUsable = config.fusionAuthUrl !== undefined && config.fusionAuthApiKey !== undefined && !isBroken('FUSIONAUTH_URL', 'FUSIONAUTH_API_KEY', 'FUSIONAUTH_TENANT_IDS')
  await checkFusionAuthEvents(config, fusionAuthUsable, add, options.timeoutMs ?? config.fusionAuthTimeoutMs)
  return done()
}
