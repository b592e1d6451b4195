import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { z } from 'zod'
import { parsePayloadKey } from './intake/decrypt.js'
import { parseDuration } from './duration.js'
import { parseActionList, type ActionSpec } from './remediation/actions/index.js'
import { allActions, loadPolicies, type Policies } from './remediation/policy.js'

/** Environment variables that hold secrets; each may also be given as `NAME_FILE` (a path). */
export const SECRET_VARIABLES = [
  // A postgres:// URL holds a password: BRIDGE_DATABASE_FILE names a file that holds the URL.
  'BRIDGE_DATABASE',
  'ENZOIC_WEBHOOK_CREDENTIALS',
  'ENZOIC_PAYLOAD_KEY',
  'ENZOIC_API_KEY',
  'ENZOIC_API_SECRET',
  'FUSIONAUTH_API_KEY',
  'BRIDGE_NOTIFY_SECRET'
] as const

export type { ActionSpec }

export interface WebhookCredential { readonly key: string, readonly secret: string }

export interface Config {
  readonly host: string
  readonly port: number
  readonly logLevel: string
  /** A SQLite file path, or a postgres:// URL (holds a password: print it with describeDatabase()). */
  readonly database: string
  readonly maxBodyBytes: number
  readonly webhookCredentials: readonly WebhookCredential[]
  readonly payloadEncryption: 'off' | 'optional' | 'required'
  readonly payloadKey?: Buffer
  readonly payloadCipher: 'cbc' | 'gcm'
  readonly clientCert: 'off' | 'proxy' | 'direct'
  readonly clientCertCN: string
  readonly trustedProxies: readonly string[]
  readonly tlsCertFile?: string
  readonly tlsKeyFile?: string
  readonly clientCaFile?: string
  readonly allowedIps?: readonly string[]
  readonly enzoicApiUrl: string
  readonly enzoicApiKey?: string
  readonly enzoicApiSecret?: string
  readonly fusionAuthUrl?: string
  readonly fusionAuthApiKey?: string
  readonly tenantIds?: readonly string[]
  readonly fusionAuthTimeoutMs: number
  readonly fusionAuthConcurrency: number
  /** The default policy's values, from the environment (per-tenant policies: `policies`). */
  readonly actions: readonly ActionSpec[]
  readonly dryRun: boolean
  readonly protectedUsers: readonly string[]
  readonly skipIfPasswordChangedAfterExposure: boolean
  readonly graceMs?: number
  readonly graceActions: readonly ActionSpec[]
  /** The environment's policy overlaid by BRIDGE_POLICY_FILE (default and per tenant). */
  readonly policies: Policies
  /** The operator digest: where, how often, signed with what (Standard Webhooks). */
  readonly notify?: { readonly url: string, readonly intervalMs: number, readonly secret?: string }
  readonly actorUserId?: string
  /** Waits between attempts, in milliseconds. */
  readonly retrySchedule: readonly number[]
  /** Finished alerts keep their personal data this long (ms), then only a tombstone; undefined = forever. */
  readonly retentionMs?: number
  /** `masked` (default): log lines carry `j***@acme.io~3f2a`, enough to correlate, not to harvest. */
  readonly logEmails: 'masked' | 'full'
  /** How long a claimed alert stays leased without renewal (a replica that dies loses its alerts after this). */
  readonly leaseMs: number
  /** Webhook requests admitted at once (reading, parsing or waiting for their commit); past it, 503. */
  readonly maxInFlight: number
  /** Body bytes admitted at once (declared Content-Length, else BRIDGE_MAX_BODY_BYTES per request); past it, 503. */
  readonly maxInFlightBytes: number
  /** The longest a sender may take to send one whole request, headers and body (then 408 and the connection closed). */
  readonly requestTimeoutMs: number
}

/** What a command needs beyond the always-valid defaults. */
export type Requirement = 'webhook' | 'fusionauth' | 'enzoic'

export class ConfigError extends Error {
  readonly code = 'BRIDGE_CONFIG'
  constructor (readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map(p => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

const list = (s: string | undefined): string[] =>
  (s ?? '').split(',').map(x => x.trim()).filter(x => x.length > 0)

const bool = z.string().trim().toLowerCase()
  .refine(v => ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', ''].includes(v), 'must be true or false')
  .transform(v => ['true', '1', 'yes', 'on'].includes(v))

const int = (min: number, max: number) => z.string().trim()
  .regex(/^\d+$/, 'must be a whole number')
  .transform(Number)
  .refine(n => n >= min && n <= max, `must be between ${min} and ${max}`)

/** A parse failure message (distinct from a parsed string value). */
class Bad { constructor (readonly message: string) {} }
const bad = (message: string): Bad => new Bad(message)

export { parseDuration }

function parseCredentials (text: string): WebhookCredential[] | Bad {
  const pairs = list(text)
  if (pairs.length === 0) return bad('must hold at least one key:secret pair')
  const out: WebhookCredential[] = []
  for (const [i, pair] of pairs.entries()) {
    // Split at the first ':' as Basic auth does: a key holds no ':', a secret may.
    const at = pair.indexOf(':')
    if (at <= 0 || at === pair.length - 1) return bad(`pair ${i + 1} is not key:secret`)
    out.push({ key: pair.slice(0, at), secret: pair.slice(at + 1) })
  }
  return out
}

/** A SQLite file path, or a postgres:// URL (checked here; never echoed: it holds a password). */
function parseDatabase (text: string): string | Bad {
  const v = text.trim()
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return v
  if (!/^postgres(ql)?:\/\//i.test(v)) return bad('must be a file path (SQLite) or a postgres:// / postgresql:// URL')
  try {
    const u = new URL(v)
    if (u.hostname === '' && !u.searchParams.has('host')) return bad('the PostgreSQL URL names no host')
    if (u.pathname === '' || u.pathname === '/') return bad('the PostgreSQL URL names no database (postgres://user:password@host:5432/DATABASE)')
  } catch {
    return bad('is not a valid PostgreSQL URL')
  }
  return v
}

function parseActions (text: string): ActionSpec[] | Bad {
  const r = parseActionList(text)
  return typeof r === 'string' ? bad(r) : r
}

const DEFAULT_ACTIONS: ActionSpec[] = [{ label: 'deactivate', name: 'deactivate' }, { label: 'revoke-sessions', name: 'revoke-sessions' }]

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

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

/**
 * Builds the frozen Config from the environment. Every problem is reported at once, one line per
 * variable, naming the variable and never its value.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env, require: readonly Requirement[] = []): Config {
  const problems: string[] = []
  const e = resolveSecretFiles(env, problems)
  const get = (name: string): string | undefined => {
    const v = e[name]
    return v === undefined || v.trim() === '' ? undefined : v
  }
  function field<T> (name: string, schema: z.ZodType<T>, fallback: string): T {
    const r = schema.safeParse(get(name) ?? fallback)
    if (r.success) return r.data
    problems.push(`${name}: ${r.error.issues[0]?.message ?? 'invalid'}`)
    return undefined as T
  }
  function optional<T> (name: string, parse: (v: string) => T | Bad): Exclude<T, Bad> | undefined {
    const v = get(name)
    if (v === undefined) return undefined
    const r = parse(v)
    if (r instanceof Bad) { problems.push(`${name}: ${r.message}`); return undefined }
    return r as Exclude<T, Bad>
  }
  const oneOf = <T extends string>(...values: T[]) => z.string().trim().toLowerCase()
    .refine((v): v is T => (values as string[]).includes(v), `must be one of ${values.join(', ')}`) as unknown as z.ZodType<T>
  const ips = (v: string): string[] | Bad => {
    const items = list(v)
    const wrong = items.findIndex(ip => isIP(ip) === 0)
    return wrong >= 0 ? bad(`entry ${wrong + 1} is not an IP address`) : items
  }
  const url = (v: string): string | Bad => {
    try {
      const u = new URL(v)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return bad('must be an http(s) URL')
      return v.trim().replace(/\/+$/, '')
    } catch { return bad('must be a URL') }
  }

  const config: Config = {
    host: field('HOST', z.string().trim().min(1), '127.0.0.1'),
    port: field('PORT', int(0, 65535), '8080'),
    logLevel: field('LOG_LEVEL', oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), 'info'),
    database: optional('BRIDGE_DATABASE', parseDatabase) ?? './data/bridge.db',
    maxBodyBytes: field('BRIDGE_MAX_BODY_BYTES', int(256, 64 * 1024 * 1024), '65536'),
    webhookCredentials: optional('ENZOIC_WEBHOOK_CREDENTIALS', parseCredentials) ?? [],
    payloadEncryption: field('ENZOIC_PAYLOAD_ENCRYPTION', oneOf('off', 'optional', 'required'), 'off'),
    payloadKey: optional('ENZOIC_PAYLOAD_KEY', v => { const k = parsePayloadKey(v); return typeof k === 'string' ? bad(k) : k }),
    payloadCipher: field('ENZOIC_PAYLOAD_CIPHER', oneOf('cbc', 'gcm'), 'cbc'),
    clientCert: field('ENZOIC_CLIENT_CERT', oneOf('off', 'proxy', 'direct'), 'off'),
    clientCertCN: field('ENZOIC_CLIENT_CERT_CN', z.string().trim().min(1), 'webhooks.enzoic.com'),
    trustedProxies: optional('TRUSTED_PROXIES', ips) ?? ['127.0.0.1', '::1'],
    tlsCertFile: get('TLS_CERT_FILE'),
    tlsKeyFile: get('TLS_KEY_FILE'),
    clientCaFile: get('ENZOIC_CLIENT_CA_FILE'),
    allowedIps: optional('ENZOIC_ALLOWED_IPS', ips),
    enzoicApiUrl: optional('ENZOIC_API_URL', url) ?? 'https://api.enzoic.com/v1',
    enzoicApiKey: get('ENZOIC_API_KEY'),
    enzoicApiSecret: get('ENZOIC_API_SECRET'),
    fusionAuthUrl: optional('FUSIONAUTH_URL', url),
    fusionAuthApiKey: get('FUSIONAUTH_API_KEY'),
    tenantIds: optional('FUSIONAUTH_TENANT_IDS', v => {
      const ids = list(v)
      return ids.every(id => UUID.test(id)) ? ids : bad('must be a comma-separated list of tenant ids (UUIDs)')
    }),
    fusionAuthTimeoutMs: field('FUSIONAUTH_TIMEOUT_MS', int(100, 600_000), '10000'),
    fusionAuthConcurrency: field('FUSIONAUTH_CONCURRENCY', int(1, 256), '8'),
    actions: optional('BRIDGE_ACTIONS', parseActions) ?? DEFAULT_ACTIONS,
    dryRun: field('BRIDGE_DRY_RUN', bool, 'false'),
    protectedUsers: list(get('BRIDGE_PROTECTED_USERS')).map(u => u.toLowerCase()),
    skipIfPasswordChangedAfterExposure: field('BRIDGE_SKIP_IF_PASSWORD_CHANGED_AFTER_EXPOSURE', bool, 'false'),
    graceMs: optional('BRIDGE_GRACE_PERIOD', v => {
      if (v.trim().toLowerCase() === 'none') return undefined
      const d = parseDuration(v)
      return d !== undefined && d >= 1000 ? d : bad('must be a duration like 72h or 3d, or none')
    }),
    graceActions: optional('BRIDGE_GRACE_ACTIONS', parseActions) ?? [],
    policies: undefined as unknown as Policies,
    notify: undefined,
    actorUserId: optional('FUSIONAUTH_ACTOR_USER_ID', v => UUID.test(v.trim()) ? v.trim() : bad('must be a user id (UUID)')),
    retrySchedule: optional('BRIDGE_RETRY_SCHEDULE', v => {
      const steps = list(v).map(parseDuration)
      return steps.length > 0 && steps.every(s => s !== undefined) ? steps as number[] : bad('must be a list of durations like 5s,30s,2m,1h')
    }) ?? [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 86400].map(s => s * 1000),
    retentionMs: (() => {
      const v = get('BRIDGE_RETENTION')?.trim().toLowerCase() ?? '90d'
      if (v === 'off') return undefined
      const d = parseDuration(v)
      if (d === undefined || d < 86_400_000) { problems.push('BRIDGE_RETENTION: must be a duration of at least 1d (e.g. 90d), or off'); return undefined }
      return d
    })(),
    logEmails: field('BRIDGE_LOG_EMAILS', oneOf('masked', 'full'), 'masked'),
    leaseMs: optional('BRIDGE_LEASE_TTL', v => {
      const d = parseDuration(v)
      return d !== undefined && d >= 1000 && d <= 3_600_000 ? d : bad('must be a duration between 1s and 1h, e.g. 30s')
    }) ?? 30_000,
    maxInFlight: field('BRIDGE_MAX_IN_FLIGHT', int(1, 100_000), '512'),
    maxInFlightBytes: field('BRIDGE_MAX_IN_FLIGHT_BYTES', int(1024, 1024 * 1024 * 1024), '2097152'),
    requestTimeoutMs: optional('BRIDGE_REQUEST_TIMEOUT', v => {
      const d = parseDuration(v)
      return d !== undefined && d >= 100 && d <= 600_000 ? d : bad('must be a duration between 100ms and 10m, e.g. 30s')
    }) ?? 30_000
  }

  // Policies: the environment's, overlaid by BRIDGE_POLICY_FILE per tenant.
  const envPolicy = {
    actions: config.actions,
    graceMs: config.graceMs,
    graceActions: config.graceActions,
    protectedUsers: config.protectedUsers,
    protectedGroupIds: [],
    dryRun: config.dryRun,
    skipIfPasswordChangedAfterExposure: config.skipIfPasswordChangedAfterExposure
  }
  const policy = loadPolicies(get('BRIDGE_POLICY_FILE'), envPolicy)
  problems.push(...policy.problems.map(p => p.startsWith('BRIDGE_POLICY_FILE') ? p : p.replace(/^policy: /, 'BRIDGE_ACTIONS/BRIDGE_GRACE_PERIOD/BRIDGE_GRACE_ACTIONS: ')))
  ;(config as { policies: Policies }).policies = policy.policies

  // The operator digest.
  const notifyUrl = optional('BRIDGE_NOTIFY_URL', v => {
    try {
      const u = new URL(v.trim())
      if (u.protocol !== 'https:' && !(u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))) return bad('must be an https URL')
      return u.toString()
    } catch { return bad('must be a URL') }
  })
  const notifyInterval = optional('BRIDGE_NOTIFY_INTERVAL', v => {
    const d = parseDuration(v)
    return d !== undefined && d >= 1000 ? d : bad('must be a duration like 15m')
  }) ?? 900_000
  const notifySecret = get('BRIDGE_NOTIFY_SECRET')
  if (notifySecret !== undefined && notifyUrl === undefined && get('BRIDGE_NOTIFY_URL') === undefined) problems.push('BRIDGE_NOTIFY_SECRET: set without BRIDGE_NOTIFY_URL')
  if (notifySecret !== undefined && /^whsec_/.test(notifySecret) && !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(notifySecret.trim())) problems.push('BRIDGE_NOTIFY_SECRET: a whsec_ secret must be Base64 after the prefix')
  if (notifyUrl !== undefined) (config as { notify?: Config['notify'] }).notify = { url: notifyUrl, intervalMs: notifyInterval, secret: notifySecret?.trim() }

  // Rules that tie several variables together.
  if (config.payloadEncryption !== 'off' && config.payloadKey === undefined && get('ENZOIC_PAYLOAD_KEY') === undefined) {
    problems.push(`ENZOIC_PAYLOAD_KEY: required when ENZOIC_PAYLOAD_ENCRYPTION is ${config.payloadEncryption}`)
  }
  if (config.clientCert === 'direct') {
    for (const name of ['TLS_CERT_FILE', 'TLS_KEY_FILE', 'ENZOIC_CLIENT_CA_FILE']) {
      if (get(name) === undefined) problems.push(`${name}: required when ENZOIC_CLIENT_CERT is direct`)
    }
  }
  const needActor = allActions(config.policies).filter(a => a.name === 'comment' || a.name === 'user-action')
  if (needActor.length > 0 && config.actorUserId === undefined) {
    // FusionAuth requires the commenter / actioner to be an existing user.
    problems.push(`FUSIONAUTH_ACTOR_USER_ID: required by the ${[...new Set(needActor.map(a => a.name))].join(' and ')} action${needActor.length > 1 ? 's' : ''}`)
  }
  if (require.includes('webhook') && config.webhookCredentials.length === 0 && get('ENZOIC_WEBHOOK_CREDENTIALS') === undefined) {
    problems.push('ENZOIC_WEBHOOK_CREDENTIALS: required (key:secret of the Enzoic webhook)')
  }
  if (require.includes('fusionauth')) {
    if (get('FUSIONAUTH_URL') === undefined) problems.push('FUSIONAUTH_URL: required')
    if (get('FUSIONAUTH_API_KEY') === undefined) problems.push('FUSIONAUTH_API_KEY: required')
  }
  if (require.includes('enzoic')) {
    if (get('ENZOIC_API_KEY') === undefined) problems.push('ENZOIC_API_KEY: required for Enzoic API commands')
    if (get('ENZOIC_API_SECRET') === undefined) problems.push('ENZOIC_API_SECRET: required for Enzoic API commands')
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return Object.freeze(config)
}
