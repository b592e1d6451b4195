import pg from 'pg'

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
    connectionString: options.url,
    application_name: new URL(options.url).searchParams.get('application_name') ?? 'enzoic-fusionauth-bridge',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    options: [given, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].filter(Boolean).join(' '),
    // Past the server's own time-out: the server ends the statement first; this is for a server gone silent.
    query_timeout: statementMs + 5000,
    keepAlive: true
  }
}

/**
 * node-postgres errors carry no connection string, but a message may still quote one given back by a
 * proxy: strip anything that looks like a password in a URL.
 */
export function safeMessage (err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@')
}
