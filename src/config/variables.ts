/**
 * Every environment variable the bridge reads, declared once (docs/maintaining.md, "Add a variable"): its
 * parser and default, whether it is a secret (then also `NAME_FILE`), the README line and the .env.example
 * comment. loadConfig reads this table; `.env.example`, the README's configuration table and the
 * unknown-variable warnings are generated from it (test/config/variables.test.ts keeps them equal).
 */
import { parsePayloadKey } from '../intake/decrypt.js'
import { actionSyntax, parseActionList, type ActionSpec } from '../remediation/actions/index.js'
import { parseDuration } from '../duration.js'
import { Bad, bad, bool, duration, httpUrl, int, ips, keyBytes, list, oneOf, text, uuid, uuids, type Parser } from './parsers.js'

export interface WebhookCredential { readonly key: string, readonly secret: string }

/** What a command needs beyond the always-valid defaults. */
export type Requirement = 'webhook' | 'fusionauth' | 'enzoic'

/** The parsed values, by their key in Config. */
export interface Values {
  host: string
  port: number
  logLevel: string
  logEmails: 'masked' | 'full'
  database: string
  retentionMs: number | undefined
  tombstoneKey: Buffer | undefined
  maxBodyBytes: number
  maxInFlight: number
  maxInFlightBytes: number
  requestTimeoutMs: number
  maxConnections: number
  maxConnectionsPerAddress: number
  webhookCredentials: readonly WebhookCredential[]
  payloadEncryption: 'off' | 'optional' | 'required'
  payloadKey: Buffer | undefined
  payloadCipher: 'cbc' | 'gcm'
  clientCert: 'off' | 'proxy' | 'direct'
  clientCertCN: string
  trustedProxies: readonly string[]
  tlsCertFile: string | undefined
  tlsKeyFile: string | undefined
  clientCaFile: string | undefined
  allowedIps: readonly string[] | undefined
  enzoicApiUrl: string
  enzoicApiKey: string | undefined
  enzoicApiSecret: string | undefined
  fusionAuthUrl: string | undefined
  fusionAuthApiKey: string | undefined
  tenantIds: readonly string[] | undefined
  fusionAuthTimeoutMs: number
  fusionAuthConcurrency: number
  actions: readonly ActionSpec[]
  dryRun: boolean
  protectedUsers: readonly string[]
  skipIfPasswordChangedAfterExposure: boolean
  actorUserId: string | undefined
  graceMs: number | undefined
  graceActions: readonly ActionSpec[]
  policyFile: string | undefined
  retrySchedule: readonly number[]
  leaseMs: number
  notifyUrl: string | undefined
  notifyIntervalMs: number
  notifySecret: string | undefined
  faWebhookSecrets: readonly string[]
  faWebhookSignature: 'off' | 'required'
  faWebhookHmacKey: string | undefined
  faBreachLogin: 'allow' | 'block'
  faWebhookAllowedIps: readonly string[] | undefined
}

export type Section = 'listener' | 'storage' | 'webhook' | 'client-cert' | 'enzoic-api' | 'fusionauth' | 'fusionauth-events' | 'policy' | 'digest'

export const SECTIONS: Record<Section, string> = {
  listener: 'HTTP listener (behind nginx by default)',
  storage: 'Storage and intake limits',
  webhook: 'Enzoic webhook authentication (required)',
  'client-cert': 'Enzoic\'s client certificate (mTLS) and source addresses',
  'enzoic-api': 'Enzoic REST API (the `breach-bridge enzoic …` commands; exposure details for the worker)',
  fusionauth: 'FusionAuth (required to serve)',
  'fusionauth-events': 'FusionAuth\'s own events (optional: `POST /webhooks/fusionauth`)',
  policy: 'What happens to a breached user',
  digest: 'Operator digest'
}

export interface Variable<K extends keyof Values = keyof Values> {
  readonly name: string
  readonly key: K
  readonly section: Section
  /** The default, as text through the same parser; undefined: none (the value is undefined, or required). */
  readonly default?: string
  /** The value when it is not set and has no default (otherwise undefined). */
  readonly whenAbsent?: Values[K]
  /** How the README shows a variable without a default (`none`, `—`). */
  readonly defaultText?: string
  /** `.env.example` shows it as `NAME=` (to fill in) rather than commented out. */
  readonly fillIn?: boolean
  /** A secret: also read from the file `NAME_FILE` names; never printed. */
  readonly secret?: boolean
  /** What of a secret's value is secret, for `check`'s scrub list (default: the whole value). */
  readonly secretParts?: (value: string) => string[]
  /** `.env.example`'s example of the `_FILE` form. */
  readonly fileExample?: string
  /** `.env.example`'s commented example value when there is no default. */
  readonly example?: string
  /** Which commands fail without it. */
  readonly requiredFor?: Requirement
  /** The README's meaning column (markdown). */
  readonly doc: string
  /** `.env.example`'s comment lines above it (plain text); none: the variable is explained by its neighbour's. */
  readonly comment?: readonly string[]
  readonly parse: Parser<Values[K]>
}

const variable = <K extends keyof Values>(v: Variable<K>): Variable<K> => v

/** The password of a URL (as written and decoded), if it holds one. */
function urlPasswords (value: string): string[] {
  try {
    const password = new URL(value.trim()).password
    if (password === '') return []
    try { return [password, decodeURIComponent(password)] } catch { return [password] }
  } catch {
    return []
  }
}

function parseCredentials (value: string): WebhookCredential[] | Bad {
  const pairs = list(value)
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
/** The libpq sslmodes the bridge gives libpq's meaning (store/postgres/connection.ts, libpqSemantics). */
const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full']

function parseDatabase (value: string): string | Bad {
  const v = value.trim()
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return v
  if (!/^postgres(ql)?:\/\//i.test(v)) return bad('must be a file path (SQLite) or a postgres:// / postgresql:// URL')
  try {
    const u = new URL(v)
    if (u.hostname === '' && !u.searchParams.has('host')) return bad('the PostgreSQL URL names no host')
    if (u.pathname === '' || u.pathname === '/') return bad('the PostgreSQL URL names no database (postgres://user:password@host:5432/DATABASE)')
    const mode = u.searchParams.get('sslmode')
    if (mode !== null && !SSL_MODES.includes(mode)) {
      return bad(`sslmode=${mode} is not one the bridge knows: ${SSL_MODES.join(', ')} (README, "High availability"); for "encrypt, do not verify" use sslmode=require`)
    }
    if (mode === 'verify-ca' && !u.searchParams.has('sslrootcert')) return bad('sslmode=verify-ca needs sslrootcert=/path/to/ca.pem (the CA that signed the server\'s certificate)')
  } catch {
    return bad('is not a valid PostgreSQL URL')
  }
  return v
}

const actions: Parser<ActionSpec[]> = v => {
  const r = parseActionList(v)
  return r.problems.length > 0 ? bad(r.problems.join('; ')) : r.actions
}

const notifyUrl: Parser<string> = v => {
  try {
    const u = new URL(v.trim())
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))) return bad('must be an https URL')
    return u.toString()
  } catch { return bad('must be a URL') }
}

const optionalText = (v: string): string | undefined => v.trim() === '' ? undefined : v

export const VARIABLES: readonly Variable[] = [
  // ── listener ──
  variable({ name: 'HOST', key: 'host', section: 'listener', default: '127.0.0.1', parse: text, doc: 'listen address (behind nginx by default)' }),
  variable({ name: 'PORT', key: 'port', section: 'listener', default: '8080', parse: int(0, 65535), doc: 'listen port' }),
  variable({
    name: 'LOG_LEVEL',
    key: 'logLevel',
    section: 'listener',
    default: 'info',
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    doc: 'pino level; JSON lines unless stdout is a terminal',
    comment: ['fatal | error | warn | info | debug | trace | silent']
  }),
  variable({
    name: 'BRIDGE_LOG_EMAILS',
    key: 'logEmails',
    section: 'listener',
    default: 'masked',
    parse: oneOf('masked', 'full'),
    doc: '`masked` logs `j***@acme.io~3f2a` (enough to correlate, not to harvest; the alert id is the join key); `full` logs the address',
    comment: ['masked: log lines carry j***@acme.io~3f2a (the alert id is the join key); full: the whole address.']
  }),
  // ── storage ──
  variable({
    name: 'BRIDGE_DATABASE',
    key: 'database',
    section: 'storage',
    default: './data/bridge.db',
    secret: true,
    // A SQLite path is no secret (it is printed); a PostgreSQL URL's password is.
    secretParts: urlPasswords,
    parse: parseDatabase,
    fileExample: '/etc/enzoic-bridge/database-url',
    doc: 'a SQLite file (created 0600 with its folder), or a `postgres://` / `postgresql://` URL for several replicas (see [High availability](#high-availability)); the URL holds a password: give it as `BRIDGE_DATABASE_FILE`',
    comment: [
      'A SQLite file (created 0600 with its folder), or a PostgreSQL URL shared by several replicas, e.g.',
      'postgres://bridge:PASSWORD@db.internal:5432/bridge?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem',
      'The URL holds a password: keep it in a file instead (mode 0600), named by BRIDGE_DATABASE_FILE.'
    ]
  }),
  variable({
    name: 'BRIDGE_RETENTION',
    key: 'retentionMs',
    section: 'storage',
    default: '90d',
    parse: v => v.trim().toLowerCase() === 'off' ? undefined : duration(86_400_000, Number.MAX_SAFE_INTEGER, 'must be a duration of at least 1d (e.g. 90d), or off')(v),
    doc: 'finished alerts keep their personal data this long, then only a tombstone (idempotency key, outcome, dates) so a late re-delivery stays a duplicate; at least `1d`, or `off`',
    comment: ['Finished alerts keep their personal data (email, user ids, exposure details) this long, then only a',
      'tombstone (idempotency key, outcome, dates) so a late re-delivery stays a duplicate. At least 1d, or off.']
  }),
  variable({
    name: 'BRIDGE_TOMBSTONE_KEY',
    key: 'tombstoneKey',
    section: 'storage',
    secret: true,
    secretParts: v => [v, v.trim().replace(/^(base64|hex):/, '')],
    fillIn: true,
    parse: keyBytes(16),
    fileExample: '/etc/enzoic-bridge/tombstone-key',
    doc: 'a purged alert\'s tombstone keeps HMAC-SHA256(this key, its idempotency key) instead of the SHA-256 of (exposure id, email, customData) that a list of candidate emails would re-identify; `base64:…`, `hex:…` or text, at least 16 bytes (`openssl rand -base64 32`), kept outside the database and its backups. Set it for `serve` and `alerts purge` alike. Without it (`check` warns) tombstones stay unkeyed; set later, the next purge keys the older ones. Lost or changed: re-deliveries of alerts purged before are no longer recognised (they would be remediated again)',
    comment: ['Purged alerts keep a tombstone so a late re-delivery stays a duplicate. With this key (kept outside the',
      'database and its backups) the tombstone holds an HMAC no one without the key can match against a list of',
      'emails. base64:…, hex:… or text, at least 16 bytes: openssl rand -base64 32 (prefix it with base64:).',
      'Lost or changed: re-deliveries of alerts purged before are no longer recognised.']
  }),
  variable({
    name: 'BRIDGE_MAX_BODY_BYTES',
    key: 'maxBodyBytes',
    section: 'storage',
    default: '65536',
    parse: int(256, 64 * 1024 * 1024),
    doc: 'larger bodies get 413 (match nginx\'s `client_max_body_size`)',
    comment: ['Larger webhook bodies are refused with 413 (keep nginx\'s client_max_body_size equal).']
  }),
  variable({
    name: 'BRIDGE_MAX_IN_FLIGHT',
    key: 'maxInFlight',
    section: 'storage',
    default: '512',
    parse: int(1, 100_000),
    doc: 'webhook requests admitted at once (from authentication until their alert is committed and answered); past it, `503` + `Retry-After: 5` at once, before the body is read, and the connection closed. Each costs ~10 KB of heap besides its body: 512 → ~5 MB',
    comment: ['Webhook requests and body bytes admitted at once (until committed and answered); past either, 503 +',
      'Retry-After before the body is read. A body without Content-Length, or compressed, reserves',
      'BRIDGE_MAX_BODY_BYTES. The defaults keep the worst case under the unit\'s 96 MB heap (see the README).']
  }),
  variable({
    name: 'BRIDGE_MAX_IN_FLIGHT_BYTES',
    key: 'maxInFlightBytes',
    section: 'storage',
    default: '2097152',
    parse: int(1024, 1024 * 1024 * 1024),
    doc: 'body bytes admitted at once: each request reserves its `Content-Length` (a chunked or compressed body: `BRIDGE_MAX_BODY_BYTES` more), past it `503` as above (one request is always admitted). Why 2 MiB fits the unit\'s 96 MB heap: the worst body measured keeps 21× its size in heap until committed (64 KB of `{}` kept aside), so 2 MiB holds ≤ ~45 MB, beside the ~30 MB of an idle bridge'
  }),
  variable({
    name: 'BRIDGE_REQUEST_TIMEOUT',
    key: 'requestTimeoutMs',
    section: 'storage',
    default: '30s',
    parse: duration(100, 600_000, 'must be a duration between 100ms and 10m, e.g. 30s'),
    doc: 'the longest a sender may take to send one whole request, headers and body; then `408` and the connection closed (headers alone: 10 s, or this if shorter). Enforced to within a second',
    comment: ['The longest a sender may take to send one whole request (headers: 10 s at most); then 408.']
  }),
  variable({
    name: 'BRIDGE_MAX_CONNECTIONS',
    key: 'maxConnections',
    section: 'storage',
    default: '768',
    parse: int(16, 1_000_000),
    doc: 'open connections at once, all peers together (`server.maxConnections`); past it a new connection is closed as it arrives. Keep it under the process\'s open-file limit less ~100 (the database, FusionAuth, PostgreSQL, logs): 768 fits a limit of 1,024; the shipped unit allows 65,536',
    comment: ['Open connections at once, all peers together; past it a new connection is closed as it arrives. Keep it',
      'under the open-file limit (ulimit -n) less ~100: 768 fits 1,024. And per address (TRUSTED_PROXIES, i.e. nginx,',
      'and ENZOIC_ALLOWED_IPS excepted): a peer holding that many is refused more, so one sender\'s idle sockets',
      'cannot fill the rest.']
  }),
  variable({
    name: 'BRIDGE_MAX_CONNECTIONS_PER_ADDRESS',
    key: 'maxConnectionsPerAddress',
    section: 'storage',
    default: '64',
    parse: int(1, 1_000_000),
    doc: 'open connections at once from one address; past it a new one from that address is closed as it arrives. `TRUSTED_PROXIES` (behind nginx every connection is nginx\'s) and `ENZOIC_ALLOWED_IPS` are exempt; a connection that sends no complete headers is closed after 10 s (or `BRIDGE_REQUEST_TIMEOUT` if shorter)'
  }),
  // ── webhook ──
  variable({
    name: 'ENZOIC_WEBHOOK_CREDENTIALS',
    key: 'webhookCredentials',
    section: 'webhook',
    whenAbsent: [],
    secret: true,
    // The whole value, and each pair's secret (printed alone it is no less a secret).
    secretParts: v => [v, ...v.split(',').map(p => p.trim()).flatMap(p => p.indexOf(':') > 0 ? [p, p.slice(p.indexOf(':') + 1)] : [])],
    fillIn: true,
    requiredFor: 'webhook',
    parse: parseCredentials,
    fileExample: '/etc/enzoic-bridge/webhook-credentials',
    defaultText: '— (required)',
    doc: '`key:secret[,key2:secret2]` — the webhook key/secret Enzoic sends as Basic auth; several pairs for rotation; each pair splits at its first `:`',
    comment: ['key:secret of the webhook as `breach-bridge enzoic webhooks register` printed it. Several pairs,',
      'comma-separated, allow rotation; each pair splits at its first \':\'.']
  }),
  variable({
    name: 'ENZOIC_PAYLOAD_ENCRYPTION',
    key: 'payloadEncryption',
    section: 'webhook',
    default: 'off',
    parse: oneOf('off', 'optional', 'required'),
    doc: '`off` / `optional` (decrypt non-JSON bodies) / `required` (reject plaintext JSON)',
    comment: ['Optional AES payload encryption agreed with Enzoic support: off | optional | required']
  }),
  variable({
    name: 'ENZOIC_PAYLOAD_KEY',
    key: 'payloadKey',
    section: 'webhook',
    secret: true,
    secretParts: v => [v, v.replace(/^(base64|hex):/, '')],
    fillIn: true,
    parse: v => { const k = parsePayloadKey(v); return typeof k === 'string' ? bad(k) : k },
    doc: 'AES pre-shared key: `base64:…`, `hex:…` or raw text; 16, 24 or 32 bytes',
    comment: ['base64:…, hex:… or raw text; 16, 24 or 32 bytes (AES-128/192/256)']
  }),
  variable({
    name: 'ENZOIC_PAYLOAD_CIPHER',
    key: 'payloadCipher',
    section: 'webhook',
    default: 'cbc',
    parse: oneOf('cbc', 'gcm'),
    doc: '`cbc` = Base64(IV[16] ‖ AES-CBC/PKCS#7), `gcm` = Base64(IV[12] ‖ ciphertext ‖ tag[16])',
    comment: ['cbc = Base64(IV[16] | AES-CBC/PKCS#7)   gcm = Base64(IV[12] | ciphertext | tag[16])']
  }),
  // ── client certificate ──
  variable({
    name: 'ENZOIC_CLIENT_CERT',
    key: 'clientCert',
    section: 'client-cert',
    default: 'off',
    parse: oneOf('off', 'proxy', 'direct'),
    doc: '`off` / `proxy` (trust nginx\'s verdict headers from `TRUSTED_PROXIES` only) / `direct` (the bridge terminates TLS itself)',
    comment: ['off | proxy (trust nginx\'s X-Client-Verify / X-Client-Subject-DN from TRUSTED_PROXIES) | direct (the bridge terminates TLS)']
  }),
  variable({
    name: 'ENZOIC_CLIENT_CERT_CN',
    key: 'clientCertCN',
    section: 'client-cert',
    default: 'webhooks.enzoic.com',
    parse: text,
    doc: 'the exact subject CN required',
    comment: ['The exact subject CN required (no prefix/suffix matching).']
  }),
  variable({
    name: 'TRUSTED_PROXIES',
    key: 'trustedProxies',
    section: 'client-cert',
    default: '127.0.0.1,::1',
    parse: ips,
    doc: 'peers allowed to set the client-certificate and forwarded-for headers',
    comment: ['Peers allowed to set the client-certificate and X-Forwarded-For headers.']
  }),
  variable({ name: 'TLS_CERT_FILE', key: 'tlsCertFile', section: 'client-cert', fillIn: true, parse: optionalText, doc: '`direct` mode only: the server certificate (PEM)', comment: ['direct mode only:'] }),
  variable({ name: 'TLS_KEY_FILE', key: 'tlsKeyFile', section: 'client-cert', fillIn: true, parse: optionalText, doc: '`direct` mode only: its private key (PEM)' }),
  variable({ name: 'ENZOIC_CLIENT_CA_FILE', key: 'clientCaFile', section: 'client-cert', fillIn: true, parse: optionalText, doc: '`direct` mode only: the CA that issued Enzoic\'s client certificate' }),
  variable({
    name: 'ENZOIC_ALLOWED_IPS',
    key: 'allowedIps',
    section: 'client-cert',
    fillIn: true,
    parse: ips,
    doc: 'optional source-address allow-list (Enzoic documents one sending address, `52.42.159.171`): checked on the client address of each request (behind a trusted proxy, its `X-Forwarded-For`), and on the TCP peer as it connects — a peer neither allowed nor in `TRUSTED_PROXIES` (nor loopback, for the operational endpoints) is dropped before a byte is read, before TLS in `direct` mode. FusionAuth\'s events have their own: `FUSIONAUTH_WEBHOOK_ALLOWED_IPS`',
    comment: ['Optional source allow-list (Enzoic documents one sending address, 52.42.159.171).']
  }),
  // ── Enzoic API ──
  variable({ name: 'ENZOIC_API_URL', key: 'enzoicApiUrl', section: 'enzoic-api', default: 'https://api.enzoic.com/v1', parse: httpUrl, doc: 'Enzoic REST API' }),
  variable({
    name: 'ENZOIC_API_KEY',
    key: 'enzoicApiKey',
    section: 'enzoic-api',
    secret: true,
    fillIn: true,
    requiredFor: 'enzoic',
    parse: optionalText,
    doc: 'Enzoic API key: the `enzoic` commands; when set (with the secret), the worker also fetches the exposure details an alert lacks, but only when a step needs them (a comment, a user action, a notify-user email, or the stale-password rule), cached 30 days'
  }),
  variable({ name: 'ENZOIC_API_SECRET', key: 'enzoicApiSecret', section: 'enzoic-api', secret: true, fillIn: true, requiredFor: 'enzoic', parse: optionalText, doc: 'Enzoic API secret' }),
  // ── FusionAuth ──
  variable({ name: 'FUSIONAUTH_URL', key: 'fusionAuthUrl', section: 'fusionauth', fillIn: true, requiredFor: 'fusionauth', defaultText: '— (required to serve)', parse: httpUrl, doc: 'the FusionAuth instance\'s base URL' }),
  variable({
    name: 'FUSIONAUTH_API_KEY',
    key: 'fusionAuthApiKey',
    section: 'fusionauth',
    secret: true,
    fillIn: true,
    requiredFor: 'fusionauth',
    defaultText: '— (required to serve)',
    parse: optionalText,
    doc: 'a FusionAuth API key with the permissions in [the least-privilege list](#the-fusionauth-api-key)'
  }),
  variable({
    name: 'FUSIONAUTH_TENANT_IDS',
    key: 'tenantIds',
    section: 'fusionauth',
    fillIn: true,
    parse: uuids('tenant ids'),
    doc: 'optional tenant allow-list; unset = every tenant',
    comment: ['Optional tenant allow-list (UUIDs, comma-separated); unset = every tenant.']
  }),
  variable({ name: 'FUSIONAUTH_TIMEOUT_MS', key: 'fusionAuthTimeoutMs', section: 'fusionauth', default: '10000', parse: int(100, 600_000), doc: 'per FusionAuth request', comment: ['Per request, milliseconds.'] }),
  variable({ name: 'FUSIONAUTH_CONCURRENCY', key: 'fusionAuthConcurrency', section: 'fusionauth', default: '8', parse: int(1, 256), doc: 'alerts processed at once', comment: ['Alerts processed at once.'] }),
  variable({
    name: 'FUSIONAUTH_ACTOR_USER_ID',
    key: 'actorUserId',
    section: 'fusionauth',
    fillIn: true,
    parse: uuid('a user id'),
    doc: 'the user recorded as author of comments and user actions (required by `comment` and `user-action`)',
    comment: ['The user recorded as author of comments and user actions (required by the comment and user-action actions).']
  }),
  // ── FusionAuth events ──
  variable({
    name: 'FUSIONAUTH_WEBHOOK_SECRET',
    key: 'faWebhookSecrets',
    section: 'fusionauth-events',
    whenAbsent: [],
    secret: true,
    // The whole value, and each rotation value (printed alone it is no less a secret).
    secretParts: v => [v, ...v.split(',').map(p => p.trim())],
    fillIn: true,
    parse: v => {
      const values = list(v)
      return values.length === 0 ? bad('must hold at least one value') : values
    },
    fileExample: '/etc/enzoic-bridge/fusionauth-webhook-secret',
    defaultText: 'none (the route does not exist)',
    doc: 'the exact `Authorization` header value FusionAuth\'s webhook sends (`breach-bridge fusionauth webhooks register` generates it); several, comma-separated, for rotation. Unset: `POST /webhooks/fusionauth` answers 404',
    comment: ['The exact Authorization header value FusionAuth\'s webhook sends (`breach-bridge fusionauth webhooks register',
      '--write-env` writes it). Several, comma-separated, for rotation. Unset: the FusionAuth events route does not exist.']
  }),
  variable({
    name: 'FUSIONAUTH_WEBHOOK_SIGNATURE',
    key: 'faWebhookSignature',
    section: 'fusionauth-events',
    default: 'off',
    parse: oneOf('off', 'required'),
    doc: '`required`: every event must carry a valid `X-FusionAuth-Signature-JWT` (FusionAuth ≥ 1.48), verified against `FUSIONAUTH_URL` + `/.well-known/jwks.json` or `FUSIONAUTH_WEBHOOK_HMAC_KEY`, its `request_body_sha256` equal to the body\'s',
    comment: ['required = verify X-FusionAuth-Signature-JWT (FusionAuth >= 1.48) against FusionAuth\'s published keys',
      '(FUSIONAUTH_URL/.well-known/jwks.json) or FUSIONAUTH_WEBHOOK_HMAC_KEY: off | required']
  }),
  variable({
    name: 'FUSIONAUTH_WEBHOOK_HMAC_KEY',
    key: 'faWebhookHmacKey',
    section: 'fusionauth-events',
    secret: true,
    fillIn: true,
    parse: optionalText,
    doc: 'the secret of an HMAC signing key (FusionAuth\'s Key API never returns it: copy it from where it was created); only for signatures with an `HS*` algorithm',
    comment: ['The secret of an HMAC signing key, when the webhook signs with one (HS256/384/512).']
  }),
  variable({
    name: 'FUSIONAUTH_BREACH_LOGIN',
    key: 'faBreachLogin',
    section: 'fusionauth-events',
    default: 'allow',
    parse: oneOf('allow', 'block'),
    doc: '`block`: answer `user.password.breach` with 500 **after** the alert is stored, so a tenant whose transaction setting requires this webhook fails that login',
    comment: ['block = answer user.password.breach with 500 after storing it, so a tenant whose transaction setting',
      'requires the webhook fails that login: allow | block']
  }),
  variable({
    name: 'FUSIONAUTH_WEBHOOK_ALLOWED_IPS',
    key: 'faWebhookAllowedIps',
    section: 'fusionauth-events',
    fillIn: true,
    parse: ips,
    doc: 'optional source-address allow-list for `POST /webhooks/fusionauth` (your FusionAuth servers\' egress addresses), as `ENZOIC_ALLOWED_IPS` is for Enzoic\'s: ' +
      'the same address rules (nginx\'s `X-Forwarded-For` from `TRUSTED_PROXIES`); nginx can enforce it too (EDIT 4 of deploy/nginx/)',
    comment: ['Optional source allow-list for FusionAuth\'s events (its servers\' addresses).']
  }),
  // ── policy ──
  variable({
    name: 'BRIDGE_ACTIONS',
    key: 'actions',
    section: 'policy',
    default: 'deactivate,revoke-sessions',
    parse: actions,
    doc: `ordered: ${actionSyntax().split(', ').map(a => `\`${a}\``).join(', ')}`,
    comment: [`Ordered: ${actionSyntax()}`]
  }),
  variable({ name: 'BRIDGE_DRY_RUN', key: 'dryRun', section: 'policy', default: 'false', parse: bool, doc: 'record the plan, change nothing', comment: ['true = record the plan, change nothing.'] }),
  variable({
    name: 'BRIDGE_PROTECTED_USERS',
    key: 'protectedUsers',
    section: 'policy',
    default: '',
    fillIn: true,
    parse: v => list(v).map(u => u.toLowerCase()),
    doc: 'user ids or emails never actioned (break-glass accounts)',
    comment: ['User ids or emails never actioned (break-glass accounts), comma-separated.']
  }),
  variable({
    name: 'BRIDGE_SKIP_IF_PASSWORD_CHANGED_AFTER_EXPOSURE',
    key: 'skipIfPasswordChangedAfterExposure',
    section: 'policy',
    default: 'false',
    parse: bool,
    doc: 'outcome `stale`, no action, when the user\'s password changed after Enzoic found the exposure (its `dateAdded`, else when the alert arrived); never by the breach\'s own date, which may be decades old',
    comment: ['true = no action when the user\'s password changed after Enzoic found the exposure (its dateAdded, else the alert\'s arrival).']
  }),
  variable({
    name: 'BRIDGE_GRACE_PERIOD',
    key: 'graceMs',
    section: 'policy',
    defaultText: 'none',
    example: '72h',
    parse: v => v.trim().toLowerCase() === 'none' ? undefined : duration(1000, Number.MAX_SAFE_INTEGER, 'must be a duration like 72h or 3d, or none')(v),
    doc: 'time the user gets to fix it themselves: `BRIDGE_GRACE_ACTIONS` run when it ends, unless the user\'s password changed after the alert arrived (outcome `self-remediated`)',
    comment: ['Notify-only or staged remediation: BRIDGE_ACTIONS run at once (e.g. notify-user:<emailTemplateId>,',
      'require-password-change,revoke-sessions); BRIDGE_GRACE_ACTIONS run when BRIDGE_GRACE_PERIOD ends, unless',
      'the user changed their password meanwhile (outcome self-remediated). Default: no grace period.']
  }),
  variable({
    name: 'BRIDGE_GRACE_ACTIONS',
    key: 'graceActions',
    section: 'policy',
    default: '',
    example: 'deactivate',
    parse: actions,
    doc: 'actions due when the grace period ends, e.g. `deactivate` (needs `BRIDGE_GRACE_PERIOD`)'
  }),
  variable({
    name: 'BRIDGE_POLICY_FILE',
    key: 'policyFile',
    section: 'policy',
    example: '/etc/enzoic-bridge/policy.yaml',
    parse: optionalText,
    doc: 'YAML or JSON: a default policy and overrides by tenant id (actions, grace period, grace actions, protected users and groups, dry run); see [Policies](docs/lifecycle.md#policies-per-tenant)',
    comment: ['Per-tenant policies (YAML or JSON): a default and overrides by tenant id; see deploy/policy.example.yaml.']
  }),
  variable({
    name: 'BRIDGE_RETRY_SCHEDULE',
    key: 'retrySchedule',
    section: 'policy',
    default: '5s,30s,2m,10m,30m,1h,2h,4h,8h,12h,24h,24h',
    parse: v => {
      const steps = list(v).map(parseDuration)
      return steps.length > 0 && steps.every(s => s !== undefined) ? steps as number[] : bad('must be a list of durations like 5s,30s,2m,1h')
    },
    doc: 'waits between attempts (±20 % jitter); then `dead`',
    comment: ['Waits between attempts (±20% jitter); after the last, the alert is dead (replay with `breach-bridge alerts replay`).']
  }),
  variable({
    name: 'BRIDGE_LEASE_TTL',
    key: 'leaseMs',
    section: 'policy',
    default: '30s',
    parse: duration(1000, 3_600_000, 'must be a duration between 1s and 1h, e.g. 30s'),
    doc: 'how long a claimed alert stays leased without renewal; a replica that dies loses its alerts to the others after this',
    comment: ['How long a claimed alert stays leased without renewal (renewed every third of it while worked on): a',
      'replica that dies loses its alerts to the others after this.']
  }),
  // ── digest ──
  variable({
    name: 'BRIDGE_NOTIFY_URL',
    key: 'notifyUrl',
    section: 'digest',
    secret: true,
    example: 'https://hooks.slack.com/services/…',
    fileExample: '/etc/enzoic-bridge/notify-url',
    parse: notifyUrl,
    doc: 'https endpoint for the operator digest (Slack/Teams/Mattermost incoming webhook or any JSON receiver); a Slack or Teams webhook URL is its own credential: never printed, best given as `BRIDGE_NOTIFY_URL_FILE`',
    comment: ['An https endpoint (Slack/Teams/Mattermost incoming webhook, or any receiver of JSON): at most one summary',
      'per interval, plus a message at once when an alert dies or the worker pauses. Kept in the database until',
      'delivered. A chat webhook URL is its own credential: keep it in a file (mode 0600), named by BRIDGE_NOTIFY_URL_FILE.']
  }),
  variable({
    name: 'BRIDGE_NOTIFY_INTERVAL',
    key: 'notifyIntervalMs',
    section: 'digest',
    default: '15m',
    parse: duration(1000, Number.MAX_SAFE_INTEGER, 'must be a duration like 15m'),
    doc: 'at most one digest per interval (a dead alert or a paused worker sends a message at once)'
  }),
  variable({
    name: 'BRIDGE_NOTIFY_SECRET',
    key: 'notifySecret',
    section: 'digest',
    secret: true,
    example: 'whsec_…',
    parse: v => v.trim(),
    doc: 'signs each message with the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`); `whsec_<base64>` or any text',
    comment: ['Signs every message (Standard Webhooks headers webhook-id, webhook-timestamp, webhook-signature): whsec_<base64> or any text.']
  })
]

/** Variables that hold secrets; each may also be given as `NAME_FILE` (a path). */
export const SECRET_VARIABLES: readonly string[] = VARIABLES.filter(v => v.secret === true).map(v => v.name)

/** Every name the bridge reads: the variables and the `_FILE` form of each secret, sorted. */
export function knownVariables (): string[] {
  return [...VARIABLES.map(v => v.name), ...SECRET_VARIABLES.map(n => `${n}_FILE`)].sort()
}
