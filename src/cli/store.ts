/**
 * The store of a command, and the CLI's words for what the store operations throw: shared by `alerts …`,
 * `users list` and `enzoic webhooks test --wait`.
 */
import { statSync } from 'node:fs'
import { dirname } from 'node:path'
import type { AlertRecord } from '../alerts/types.js'
import { AlertNotFoundError, AmbiguousAlertIdError, InvalidAlertIdError } from '../operations/alerts.js'
import { OperatorActionError } from '../operations/lifecycle.js'
import { describeDatabase, isPostgresUrl, openStore } from '../store/index.js'
import type { Store } from '../store/types.js'
import { classify, CliError, EXIT } from './exit.js'
import { inert, shortTime, table } from './output.js'

/**
 * Opens the bridge's store (BRIDGE_DATABASE) for a command. Never creates a SQLite file (a typo in
 * BRIDGE_DATABASE should not look like "no alerts"); a store that cannot be reached is one clear line.
 */
export async function openCommandStore (database: string, tombstoneKey?: Uint8Array): Promise<Store> {
  const where = describeDatabase(database)
  if (!isPostgresUrl(database)) {
    const missing = missingDatabase(database)
    if (missing !== undefined) throw new CliError(missing, EXIT.usage)
  }
  try {
    return await openStore(database, { role: 'command', tombstoneKey })
  } catch (e) {
    const known = classify(e)
    if (known === undefined) throw e
    const message = known.message.includes(where) ? known.message : `${where}: ${known.message}`
    throw new CliError(known.exitCode === EXIT.unavailable ? `${message}: check BRIDGE_DATABASE and that the database server runs` : message, known.exitCode)
  }
}

/**
 * Why a command finds no SQLite database at `file`, or undefined when there is one to open. Only a path that
 * certainly does not exist is "has the bridge run yet?"; a folder of the path this user may not enter, or a
 * folder where the file should be, is said as such (the store's own check words it).
 */
function missingDatabase (file: string): string | undefined {
  try {
    statSync(file)
    return undefined // exists: opening it says what else may be wrong (a folder, permissions)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined
  }
  const folder = dirname(file)
  const hasFolder = ((): boolean => { try { return statSync(folder).isDirectory() } catch { return false } })()
  return `no database at ${file} (BRIDGE_DATABASE)${hasFolder ? '' : ` — its folder ${folder} does not exist either`}: ` +
    'has the bridge run yet? Point BRIDGE_DATABASE at the running bridge\'s database'
}

/** Who an alert is about, as a table cell: the email, else the start of the username hash. */
export const who = (a: AlertRecord): string => a.email ?? (a.usernameHash === undefined ? '-' : `#${a.usernameHash.slice(0, 12)}`)

/** The CLI's words (and exit codes) for the errors of the alert and lifecycle operations. */
export function explainStoreError (e: unknown): unknown {
  if (e instanceof InvalidAlertIdError) return new CliError(`${inert(e.given)}: ${e.message}`, EXIT.usage)
  if (e instanceof AlertNotFoundError) return new CliError(`no alert ${inert(e.given)}`, EXIT.failure)
  if (e instanceof AmbiguousAlertIdError) {
    const rows = table(['ID', 'RECEIVED', 'STATE', 'EMAIL'], e.candidates.map(a => [a.id, shortTime(a.receivedAt), a.state, who(a)]))
    return new CliError(`alert id prefix ${inert(e.given)} is ambiguous; it matches${e.more ? ' (at least)' : ''}:\n${rows.replace(/^/gm, '  ')}\nGive more characters of the id.`, EXIT.usage)
  }
  if (e instanceof OperatorActionError) {
    // A refused credential or a --user the alert never touched: fix the command or the key (2); FusionAuth or the
    // alert busy: later (3); FusionAuth refused the undo itself: look at the user (1).
    const unavailable = e.code === 'BRIDGE_ALERT_BUSY' || e.failure === 'unavailable'
    const usage = e.code === 'BRIDGE_NOT_THE_ALERTS_USER' || e.code === 'BRIDGE_RESTORE_NOT_PERMITTED' || e.failure === 'credential'
    return new CliError(e.message, unavailable ? EXIT.unavailable : usage ? EXIT.usage : EXIT.failure)
  }
  return classify(e) ?? e
}

/**
 * Runs `fn` with the command's store, closed afterwards; its errors in the CLI's words. `tombstoneKey`: for a
 * command that purges (BRIDGE_TOMBSTONE_KEY).
 */
export async function withCommandStore<T> (database: string, fn: (store: Store) => Promise<T>, tombstoneKey?: Uint8Array): Promise<T> {
  const store = await openCommandStore(database, tombstoneKey)
  try {
    return await fn(store)
  } catch (e) {
    throw explainStoreError(e)
  } finally {
    await store.close()
  }
}
