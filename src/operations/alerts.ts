/**
 * What operators do with stored alerts, as a library API (docs/design.md §3): the CLI parses arguments and
 * renders these results; nothing here prints. Every function takes an open Store (SQLite or PostgreSQL).
 */
import { OUTCOME_NAMES } from '../alerts/outcomes.js'
import { ALERT_STATES, type AlertEvent, type AlertRecord, type AlertSource, type AlertState, type Outcome, type Step } from '../alerts/types.js'
import type { ListOptions, Store } from '../store/types.js'
import { BridgeError } from '../errors.js'

export const OUTCOMES: readonly Outcome[] = OUTCOME_NAMES
/** Who reported an alert: Enzoic, or FusionAuth's own breached password detection (its `user.password.breach` event). */
export const ALERT_SOURCES: readonly AlertSource[] = ['enzoic', 'fusionauth']
export { ALERT_STATES }

/** An id (or prefix) that is not hex and dashes, or too short to mean anything. */
export class InvalidAlertIdError extends BridgeError {
  readonly code = 'BRIDGE_INVALID_ALERT_ID'
  constructor (readonly given: string, reason: string) {
    super(reason)
  }
}

/** No alert has that id or prefix (`detail`: its data was purged, …): the one "not found" of alerts. */
export class AlertNotFoundError extends BridgeError {
  readonly code = 'BRIDGE_ALERT_NOT_FOUND'
  constructor (readonly given: string, detail = '') {
    super(`no alert ${given}${detail}`)
  }
}

/** A prefix that matches several alerts (as `git show 0190` may): the candidates, newest first. */
export class AmbiguousAlertIdError extends BridgeError {
  readonly code = 'BRIDGE_AMBIGUOUS_ALERT_ID'
  constructor (readonly given: string, readonly candidates: AlertRecord[], readonly more: boolean) {
    super(`alert id prefix ${given} is ambiguous: it matches ${candidates.length}${more ? ' or more' : ''} alerts`)
  }
}

/** Shortest prefix accepted, as git's. */
export const MIN_PREFIX = 4
const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const CANDIDATES = 10

/**
 * A full alert id, or an unambiguous prefix of one (hex and dashes, case-insensitive, at least 4 hex
 * digits), resolved to the full id. Throws InvalidAlertIdError, AlertNotFoundError or AmbiguousAlertIdError.
 */
export async function resolveAlertId (store: Store, given: string): Promise<string> {
  const id = given.trim().toLowerCase()
  if (!/^[0-9a-f-]+$/.test(id)) throw new InvalidAlertIdError(given, 'not an alert id: ids are hexadecimal with dashes, e.g. 0190ab12-…')
  if (FULL_ID.test(id)) {
    if (await store.alerts.get(id) === undefined) throw new AlertNotFoundError(given)
    return id
  }
  if (id.replace(/-/g, '').length < MIN_PREFIX) throw new InvalidAlertIdError(given, `alert id prefix too short: give at least ${MIN_PREFIX} characters`)
  const matches = await store.alerts.list({ idPrefix: id, limit: CANDIDATES + 1 })
  if (matches.length === 0) throw new AlertNotFoundError(given)
  if (matches.length > 1) throw new AmbiguousAlertIdError(given, matches.slice(0, CANDIDATES), matches.length > CANDIDATES)
  return matches[0]!.id
}

export interface AlertFilter {
  state?: AlertState
  outcome?: string
  email?: string
  source?: AlertSource
  /** Received at or after (epoch ms). */
  since?: number
  limit?: number
}

export async function listAlerts (store: Store, filter: AlertFilter = {}): Promise<AlertRecord[]> {
  const options: ListOptions = { limit: filter.limit ?? 50 }
  if (filter.state !== undefined) options.state = filter.state
  if (filter.outcome !== undefined) options.outcome = filter.outcome
  if (filter.email !== undefined) options.email = filter.email
  if (filter.since !== undefined) options.since = filter.since
  if (filter.source !== undefined) options.source = filter.source
  return await store.alerts.list(options)
}

export interface AlertDetail {
  alert: AlertRecord
  history: AlertEvent[]
  /** One per matched user and action (docs/design.md §10), in plan order. */
  steps: Step[]
}

export async function showAlert (store: Store, idOrPrefix: string): Promise<AlertDetail> {
  const id = await resolveAlertId(store, idOrPrefix)
  const alert = await store.alerts.get(id)
  if (alert === undefined) throw new AlertNotFoundError(idOrPrefix)
  return { alert, history: await store.alerts.events(id), steps: await store.steps.list(id) }
}

export interface ReplayResult {
  /** Full ids moved from dead back to the queue. */
  replayed: string[]
  /** Ids given that were not replayed, with why. */
  notReplayed: Array<{ id: string, state?: AlertState, reason: string }>
}

/** dead → queued for the given ids (prefixes resolved first, all of them before anything changes), or every dead alert. */
export async function replayAlerts (store: Store, which: readonly string[] | 'dead'): Promise<ReplayResult> {
  if (which === 'dead') return { replayed: await store.queue.replay('dead'), notReplayed: [] }
  const ids = [...new Set(await Promise.all(which.map(async given => await resolveAlertId(store, given))))]
  const replayed = await store.queue.replay(ids)
  const notReplayed: ReplayResult['notReplayed'] = []
  for (const id of ids.filter(i => !replayed.includes(i))) {
    const a = await store.alerts.get(id)
    notReplayed.push(a === undefined
      ? { id, reason: 'not found' }
      : { id, state: a.state, reason: a.purgedAt !== undefined ? 'purged (only a tombstone is left)' : `not dead (state ${a.state})` })
  }
  return { replayed, notReplayed }
}

export interface AlertStats { byState: Record<AlertState, number>, byOutcome: Record<string, number> }

export async function alertStats (store: Store): Promise<AlertStats> {
  return { byState: await store.alerts.countByState(), byOutcome: await store.alerts.countByOutcome() }
}

/** Below this, `purge` asks for --force: a typo (`30m` for `30d`) would otherwise erase a month of evidence. */
export const PURGE_MIN_MS = 86_400_000

export interface PurgeReport {
  purged: number
  olderThanMs: number
  /** Alerts finished before this instant lost their personal data. */
  finishedBefore: string
  /** Set when the bytes may outlive the purge for a while: what remains where, and until when. */
  warning?: string
}

/** Removes the personal data of alerts finished more than `olderThanMs` ago; tombstones stay. */
export async function purgeAlerts (store: Store, olderThanMs: number, now = Date.now()): Promise<PurgeReport> {
  const { purged, walTruncated } = await store.alerts.purge({ olderThanMs })
  const report: PurgeReport = { purged, olderThanMs, finishedBefore: new Date(now - olderThanMs).toISOString() }
  if (walTruncated === false) report.warning = WAL_NOT_TRUNCATED
  return report
}

/** What a purge says when SQLite could not empty its WAL (README, "Personal data"). */
export const WAL_NOT_TRUNCATED = 'the SQLite WAL could not be emptied (another process held an older snapshot): earlier versions of the purged rows ' +
  'stay in its -wal file until the next purge or checkpoint'
