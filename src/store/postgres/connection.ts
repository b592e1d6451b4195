import pg from 'pg'
import { DatabaseConfigError } from '../types.js'

export function isPostgresUrl (database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database.trim())
}

/** The URL without its password (and without password-like query parameters): safe to print and log. */
export function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|key$/i.test(k) && k !== 'sslkey') u.searchParams.set(k, '***')
    return u.toString()
  } catch {
    return 'postgres://(unparsable URL)'
  }
}

export interface PostgresOptions {
  /** A libpq-style URL: sslmode, sslrootcert, application_name, options … are honoured by node-postgres. */
  url: string
  /** Pool size. */
  max?: number
  /** How long to wait for a connection (a free one of the pool, or a new one) before answering "unavailable" (ms). */
  connectTimeoutMs?: number
  /**
   * The server ends a statement that runs longer (`statement_timeout`), or that waits this long for a lock
   * (`lock_timeout`), so a locked table or a stalled server never leaves abandoned backends behind: the
   * client's own time-out (a little longer) only covers a server that does not answer at all.
   */
  statementTimeoutMs?: number
  lockTimeoutMs?: number
  /** Extra `-c name=value` settings for the connections (e.g. `synchronous_commit=off`). */
  settings?: Record<string, string>
}

/** Defaults: a statement ends within 10 s, a lock wait within 5 s; a transaction left idle is ended after 30 s. */
export const STATEMENT_TIMEOUT_MS = 10_000
export const LOCK_TIMEOUT_MS = 5_000
const IDLE_IN_TRANSACTION_MS = 30_000

export function clientConfig (options: PostgresOptions): pg.ClientConfig {
  const statementMs = options.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS
  const settings = {
    statement_timeout: String(statementMs),
    lock_timeout: String(Math.min(options.lockTimeoutMs ?? LOCK_TIMEOUT_MS, statementMs)),
    idle_in_transaction_session_timeout: String(IDLE_IN_TRANSACTION_MS),
    ...options.settings
  }
  // The URL's own `options` (libpq's) come first; ours follow, so they win for the settings they name.
  const given = new URL(options.url).searchParams.get('options')
  return {
    connectionString: libpqSemantics(options.url),
    application_name: new URL(options.url).searchParams.get('application_name') ?? 'enzoic-fusionauth-bridge',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    options: [given, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].filter(Boolean).join(' '),
    // Past the server's own time-out: the server ends the statement first; this is for a server gone silent.
    query_timeout: statementMs + 5000,
    keepAlive: true
  }
}

/**
 * The URL's `sslmode` as libpq documents it (node-postgres 8 reads `require` as `verify-full` and prints a
 * "SECURITY WARNING" about it; `uselibpqcompat=true` asks it for libpq's meaning, which pg 9 makes the default):
 * `disable` no TLS; `prefer` and `require` encrypt without verifying the server (with `sslrootcert`, `require` checks
 * the chain as `verify-ca`); `verify-ca` checks the chain against `sslrootcert`; `verify-full` also the host name.
 * An explicit `uselibpqcompat` in the URL is left as it is.
 */
export function libpqSemantics (url: string): string {
  let given: URL
  try { given = new URL(url) } catch { return url }
  if (given.searchParams.has('uselibpqcompat')) return url
  const at = url.indexOf('#')
  const [head, tail] = at < 0 ? [url, ''] : [url.slice(0, at), url.slice(at)]
  return `${head}${head.includes('?') ? '&' : '?'}uselibpqcompat=true${tail}`
}

/** What a TLS error of the connection means, and what to do (see `libpqSemantics` for the modes). */
const TLS_UNTRUSTED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED'])

/**
 * A connection failure that is the configuration's (exit 2, never "retry later"): a refused password or role, a
 * database that does not exist, a TLS setting that cannot work, a certificate file that cannot be read. The message
 * names the URL without its password and says what to fix. Undefined for anything else (the server down, …).
 */
export function connectProblem (err: unknown, url: string): DatabaseConfigError | undefined {
  const e = err as { code?: string, syscall?: string, path?: string, message?: string }
  const shown = redactUrl(url)
  let user = '(the OS user)'
  let database = '?'
  try {
    const u = new URL(url)
    user = decodeURIComponent(u.username) || user
    database = decodeURIComponent(u.pathname.slice(1))
  } catch {}
  const says = (text: string): DatabaseConfigError => new DatabaseConfigError(`${shown} (BRIDGE_DATABASE): ${text}`, { cause: err })
  switch (e.code) {
    case '28P01': return says(`PostgreSQL refused the password of role "${user}" (28P01): fix the password in BRIDGE_DATABASE (or its file, BRIDGE_DATABASE_FILE)`)
    case '28000': return says(`PostgreSQL refused role "${user}" (28000: ${safeMessage(err)}): check the role and pg_hba.conf`)
    case '3D000': return says(`the database "${database}" does not exist (3D000): create it (CREATE DATABASE "${database}" OWNER "${user}") or fix its name`)
    case '42501': return says(`role "${user}" may not connect to "${database}" (42501): GRANT CONNECT ON DATABASE "${database}" TO "${user}"`)
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return says(`TLS: the server's certificate is not for this host name (${e.code}): connect with a name the certificate holds, or sslmode=verify-ca (checks the chain only)`)
  }
  if (e.code !== undefined && TLS_UNTRUSTED.has(e.code)) {
    return says(`TLS: the server's certificate cannot be verified (${e.code}): give the CA that signed it as sslrootcert=/path/ca.pem ` +
      '(sslmode=verify-full checks it and the host name), or sslmode=require to encrypt without verifying')
  }
  if (/does not support SSL/i.test(e.message ?? '')) {
    return says('the server does not accept TLS connections: enable ssl on the server, or sslmode=disable (only on a network you trust)')
  }
  if (e.syscall === 'open' && e.path !== undefined) return says(`cannot read ${e.path} (${e.code ?? 'error'}): check sslrootcert, sslcert and sslkey`)
  return undefined
}

/**
 * node-postgres errors carry no connection string, but a message may still quote one given back by a
 * proxy: strip anything that looks like a password in a URL.
 */
export function safeMessage (err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@')
}
