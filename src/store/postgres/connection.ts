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
  /** How long to wait for a connection, and for one statement, before answering "unavailable" (ms). */
  connectTimeoutMs?: number
  queryTimeoutMs?: number
}

export function clientConfig (options: PostgresOptions): pg.ClientConfig {
  return {
    connectionString: options.url,
    application_name: new URL(options.url).searchParams.get('application_name') ?? 'enzoic-fusionauth-bridge',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    query_timeout: options.queryTimeoutMs ?? 15_000,
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
