import { pino, type Logger, type LoggerOptions } from 'pino'
import { sha256Hex } from '../alerts/normalise.js'
import { inert, jsonEscape } from '../alerts/text.js'

/**
 * Paths pino blanks in every log line. Password fields are dropped at parse time and never reach a log
 * call; these paths are the second line of defence should any object carrying them be logged. They are
 * explicit on purpose: wildcard paths (`*.password`) made every log line ~3× slower (44 µs vs 12 µs).
 */
const PASSWORD_FIELDS = ['plaintextPassword', 'passwordHash', 'passwordSalt', 'password']
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'secret',
  'apiKey',
  'apiSecret',
  'payloadKey',
  ...PASSWORD_FIELDS,
  ...['alert', 'body', 'payload', 'json'].flatMap(parent => PASSWORD_FIELDS.map(f => `${parent}.${f}`))
]
/** Where log lines carry an email (the alert id is the join key; the email only helps a person correlate). */
const EMAIL_PATHS = ['email']

/**
 * An email whose SHA-256 hex digest the caller already holds (an alert's `usernameHash` computed from it): its mask
 * takes the digest's first hex digits instead of hashing the address again. Serialised whole (`toJSON`) where
 * emails are not masked (BRIDGE_LOG_EMAILS=full).
 */
export class HashedEmail {
  constructor (readonly email: string, readonly sha256Hex: string) {}
  toJSON (): string { return this.email }
}

/**
 * `jane.doe@acme.io` → `j***@acme.io~3f2a`: the first letter, the domain and four hex digits of its hash —
 * the same address always masks the same way (correlation), a log file is no list of addresses (harvest).
 */
export function maskEmail (email: unknown): unknown {
  if (email instanceof HashedEmail) return mask(email.email, email.sha256Hex)
  if (typeof email !== 'string') return email
  return mask(email, sha256Hex(email))
}

function mask (email: string, digest: string): string {
  const at = email.lastIndexOf('@')
  const local = at > 0 ? email.slice(0, at) : email
  const domain = at > 0 ? email.slice(at + 1) : ''
  return `${local.slice(0, 1)}***${domain === '' ? '' : `@${domain}`}~${digest.slice(0, 4)}`
}

export interface LogOptions {
  /** `masked` (default) or `full` (BRIDGE_LOG_EMAILS). */
  emails?: 'masked' | 'full'
  /** For a person at a terminal: pino-pretty (createLogger decides, from stdout). */
  pretty?: boolean
}

/** How pino-pretty shows a line (the transport's options; a test runs the same in-process). */
export const PRETTY_OPTIONS = { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } as const

/** Every string (and key) as visible text; a stack trace keeps its line breaks (pino-pretty prints it on its lines). */
const mapStrings = (value: unknown, key?: string): unknown => {
  if (typeof value === 'string') return inert(value, { keepNewlines: key === 'stack' })
  if (Array.isArray(value)) return value.map(v => mapStrings(v))
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [inert(k), mapStrings(v, k)]))
  return value
}

/**
 * Every logged string inert (docs/design.md §11; the rule: src/alerts/text.ts). pino's hook on the finished
 * line, not a formatter: formatters run before the serializers (`err`, `req`) and redaction, so an error
 * message or a request URL would pass them by. JSON lines get the unsafe characters JSON leaves raw as `\uXXXX`
 * escapes (the same values once parsed, no unsafe byte on disk or in journald). pino-pretty would decode those
 * escapes onto the terminal, so for it every string (and key) becomes visible text first (`\e`, `\u202e`).
 */
const LINE_HOOKS = {
  json: (line: string): string => jsonEscape(line),
  pretty: (line: string): string => {
    try {
      return JSON.stringify(mapStrings(JSON.parse(line))) + '\n'
    } catch {
      return inert(line, { keepNewlines: true })
    }
  }
}

export function loggerOptions (level: string, opts: LogOptions = {}): LoggerOptions {
  const full = opts.emails === 'full'
  const options: LoggerOptions = {
    level,
    redact: {
      paths: full ? REDACT_PATHS : [...REDACT_PATHS, ...EMAIL_PATHS],
      censor: (value, path) => path.length === 1 && EMAIL_PATHS.includes(path[0]!) ? maskEmail(value) : '[redacted]'
    },
    hooks: { streamWrite: opts.pretty === true ? LINE_HOOKS.pretty : LINE_HOOKS.json }
  }
  if (opts.pretty === true) options.transport = { target: 'pino-pretty', options: PRETTY_OPTIONS }
  return options
}

/** Pretty only for a person at a terminal; JSON for everything else (CI, systemd, log shippers). */
export function createLogger (level: string, destination?: NodeJS.WritableStream, opts: LogOptions = {}): Logger {
  if (destination !== undefined) return pino(loggerOptions(level, { ...opts, pretty: false }), destination)
  return pino(loggerOptions(level, { pretty: process.stdout.isTTY === true && process.env.CI === undefined, ...opts }))
}
