import type { BreachAlert, ExposureDetails } from '../alerts/types.js'
import { normaliseEmail, parseEnzoicDate, sha256Hex, wellFormedJson } from '../alerts/normalise.js'

/**
 * The lenient reading of an Enzoic webhook body (docs/design.md §7). Unknown keys are expected and never fatal;
 * password material is reduced to `hadPassword` + `passwordType` here, at the first step after parsing,
 * so nothing past this module can store or log it.
 */

/** Enzoic's passwordType codes by name (docs/enzoic-api.md); the list grows, so unknown codes are fine. */
const PASSWORD_TYPE_NAMES: Record<string, number> = {
  plaintext: 0,
  cleartext: 0,
  md5: 1,
  sha1: 2,
  sha256: 3,
  tripledes: 4,
  ipboard: 5,
  mybb: 5,
  vbulletinpre38: 6,
  vbulletin: 7,
  vbulletinpost38: 7,
  bcrypt: 8,
  crc32: 9,
  phpbb3: 10,
  customalgorithm1: 11,
  scrypt: 12,
  customalgorithm2: 13,
  sha512: 14,
  customalgorithm3: 15,
  md5crypt: 16,
  customalgorithm4: 17,
  customalgorithm5: 18,
  oscommerce: 19,
  descrypt: 20,
  mysqlpre41: 21,
  mysqlpost41: 22,
  mysql: 22,
  peoplesoft: 23,
  punbb: 24,
  customalgorithm6: 25,
  partialmd5_20: 26,
  ave_datalife_diferior: 27,
  md5md5: 27,
  djangomd5: 28,
  djangosha1: 29,
  partialmd5_29: 30,
  pliggcms: 31,
  runcmssmf1_1: 32,
  runcms: 32,
  smf: 32,
  ntlm: 33,
  sha1dash: 34,
  sha384: 35,
  customalgorithm7: 36,
  customalgorithm8: 37,
  customalgorithm9: 38,
  sha512crypt: 39,
  customalgorithm10: 40,
  hmacsha1_saltaskey: 41,
  hmacsha1: 41,
  authmesha256: 42,
  authme: 42,
  sha256crypt: 43,
  unknown: 97,
  unusablepassword: 98,
  unusable: 98,
  none: 99
}

/** The warning of an alert whose usernameHash is not the SHA-256 of its email (without it, the one is the other's hash). */
export const HASH_MISMATCH = 'usernameHash does not match username'

/** Hostnames whose alerts are tests: stored, outcome `test`, never sent to FusionAuth. */
const TEST_TLDS = ['tst', 'test', 'example', 'invalid']
const TEST_DOMAINS = ['example.com', 'example.net', 'example.org']

/** Top-level keys of the payload that carry password material. Dropped on sight. */
const PASSWORD_KEYS = new Set(['plaintextPassword', 'passwordHash', 'passwordSalt'])
/** Unknown keys kept aside must not smuggle secrets in either, whatever Enzoic adds later. */
const SECRET_LOOKING = /pass|pwd|secret|salt|hash|token|credential|cvv|pan$/i

/** A text field: a string as it is, a number as its decimal text, anything else absent (the lenient reading). */
const text = (v: unknown): string | undefined => typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined
/** A JSON object (not an array, not null): the only shape an alert or its exposureDetails can have. */
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The payload's fields the bridge reads (read once each, by hand: no schema library on the hot path). */
const PAYLOAD_KEYS = ['type', 'date', 'exposureID', 'username', 'usernameHash', 'plaintextPassword', 'passwordHash', 'passwordSalt',
  'passwordType', 'customData', 'exposureDetails'] as const

export type Classified =
  | { kind: 'alert', alert: BreachAlert }
  | { kind: 'ignored', reason: string }
  | { kind: 'invalid', reason: string }

export function isTestEmail (email: string): boolean {
  const at = email.lastIndexOf('@')
  if (at < 0) return false
  const domain = email.slice(at + 1).replace(/\.$/, '')
  const tld = domain.slice(domain.lastIndexOf('.') + 1)
  return TEST_TLDS.includes(tld) || TEST_DOMAINS.some(d => domain === d || domain.endsWith(`.${d}`))
}

/** docs/design.md §5: SHA-256 of exposureID, the lower-cased email (or usernameHash) and customData. */
export function idempotencyKey (exposureId: string | undefined, who: string | undefined, customData: string | undefined): string {
  return sha256Hex(JSON.stringify([exposureId ?? null, who ?? null, customData ?? null]))
}

function parsePasswordType (value: unknown, warnings: string[]): { passwordType?: number, passwordTypeName?: string } {
  if (value === undefined || value === null || value === '') return {}
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return { passwordType: value }
  if (typeof value === 'string') {
    const s = value.trim()
    if (/^\d+$/.test(s)) return { passwordType: Number(s) }
    const code = PASSWORD_TYPE_NAMES[s.toLowerCase().replace(/[\s-]/g, '')]
    if (code !== undefined) return { passwordType: code, passwordTypeName: s }
    warnings.push('passwordType name not recognised')
    return { passwordTypeName: s.slice(0, 64) }
  }
  warnings.push('passwordType is not a number or name')
  return {}
}

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : undefined
const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined

function parseExposureDetails (value: unknown, warnings: string[]): ExposureDetails | undefined {
  if (value === undefined || value === null) return undefined
  if (!isRecord(value)) {
    warnings.push('exposureDetails is not an object')
    return undefined
  }
  const date = text(value.date)
  const dateAdded = text(value.dateAdded)
  const out: ExposureDetails = {
    title: text(value.title),
    date: parseEnzoicDate(date) ?? date,
    entries: num(value.entries),
    domainsAffected: num(value.domainsAffected),
    category: text(value.category),
    sourceURLs: strings(value.sourceURLs),
    source: text(value.source),
    passwordTypes: Array.isArray(value.passwordTypes) ? value.passwordTypes.filter(x => typeof x === 'number' || typeof x === 'string') : undefined,
    exposedData: strings(value.exposedData),
    dateAdded: parseEnzoicDate(dateAdded) ?? dateAdded
  }
  for (const k of Object.keys(out) as Array<keyof ExposureDetails>) if (out[k] === undefined) delete out[k]
  return out
}

/** A kept-aside value with secret-looking keys dropped at every depth (and very deep nesting cut off). */
function scrub (value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value
  if (depth > 16) return '[dropped]'
  if (Array.isArray(value)) return value.map(v => scrub(v, depth + 1))
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_LOOKING.test(k) ? '[dropped]' : scrub(v, depth + 1)]))
}

function keepAside (payload: Record<string, unknown>, known: Set<string>): Record<string, unknown> | undefined {
  const extra: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(payload)) {
    if (known.has(k) || PASSWORD_KEYS.has(k)) continue
    extra[k] = SECRET_LOOKING.test(k) ? '[dropped]' : scrub(v, 1)
  }
  return Object.keys(extra).length > 0 ? extra : undefined
}

const KNOWN = new Set<string>(PAYLOAD_KEYS)

/**
 * Classifies a decoded JSON value as an actionable alert, another Enzoic product, or not an alert. Every string of
 * it is made well-formed first (`wellFormedJson`, in place): what is stored, hashed and looked up is that text.
 */
export function classify (decoded: unknown): Classified {
  const raw = wellFormedJson(decoded)
  if (!isRecord(raw)) return { kind: 'invalid', reason: 'not an alert' }
  const p = {
    type: text(raw.type),
    date: text(raw.date),
    exposureID: text(raw.exposureID),
    username: text(raw.username),
    usernameHash: text(raw.usernameHash),
    plaintextPassword: raw.plaintextPassword,
    passwordHash: raw.passwordHash,
    passwordType: raw.passwordType,
    customData: text(raw.customData),
    exposureDetails: raw.exposureDetails
  }

  // One webhook receives Breach, Identity (piiAlert) and BIN (monitoredBin) alerts alike.
  const type = p.type?.trim().toLowerCase()
  if (type === 'piialert' || type === 'identityalert') return { kind: 'ignored', reason: 'identity (piiAlert) alert' }
  if (type === 'binalert' || type === 'monitoredbin' || 'monitoredBin' in raw) return { kind: 'ignored', reason: 'BIN (monitoredBin) alert' }

  const warnings: string[] = []
  const email = p.username !== undefined && p.username.trim() !== '' ? normaliseEmail(p.username) : undefined
  let usernameHash = p.usernameHash?.trim().toLowerCase()
  if (usernameHash === '') usernameHash = undefined
  if (usernameHash !== undefined && !/^[0-9a-f]{64}$/.test(usernameHash)) {
    warnings.push('usernameHash is not a SHA-256 hex digest')
  }
  if (email !== undefined) {
    const computed = sha256Hex(email)
    if (usernameHash === undefined) usernameHash = computed
    else if (usernameHash !== computed) warnings.push(HASH_MISMATCH)
  }
  const customData = p.customData?.trim() === '' ? undefined : p.customData
  if (email === undefined && usernameHash === undefined && customData === undefined) {
    return { kind: 'invalid', reason: 'not an alert: no username, usernameHash or customData' }
  }

  const exposureDate = parseEnzoicDate(p.date)
  if (p.date !== undefined && exposureDate === undefined) warnings.push('date not recognised')
  const { passwordType, passwordTypeName } = parsePasswordType(p.passwordType, warnings)
  const present = (v: unknown): boolean => v !== undefined && v !== null && v !== ''

  const alert: BreachAlert = {
    test: email !== undefined && isTestEmail(email),
    idempotencyKey: idempotencyKey(p.exposureID, email ?? usernameHash, customData),
    exposureId: p.exposureID,
    email,
    usernameHash,
    customData,
    exposureDate,
    hadPassword: present(p.plaintextPassword) || present(p.passwordHash),
    passwordType,
    passwordTypeName,
    exposureDetails: parseExposureDetails(p.exposureDetails, warnings),
    extra: keepAside(raw, KNOWN),
    warnings
  }
  return { kind: 'alert', alert }
}
