import { formatCustomData, parseCustomData, usernameHash } from '../alerts/normalise.js'
import type { FusionAuthGateway, FusionAuthUser } from '../fusionauth/index.js'
import type { Store } from '../store/types.js'
import { ENZOIC_MAX_BATCH, type EnzoicApi } from './client.js'
import { BridgeError } from '../errors.js'

/**
 * `breach-bridge enzoic monitor sync`: enrol every active FusionAuth user with an email in Enzoic's
 * Breach Monitoring by User, as SHA-256(lower-cased email) with customData `fusionauth:<tenant>:<user>`
 * so an alert maps straight back to the user.
 *
 * Resumable: users are read page by page (FusionAuth's `nextResults` goes past its 10,000 window) and
 * sent in batches of at most 15,000; after each batch Enzoic accepted, the position of the next unread
 * page is saved in the store. A run that stops (Ctrl-C, crash, an Enzoic error) resumes from there.
 * Memory stays bounded by one batch, whatever the number of users.
 */

export const CHECKPOINT_KEY = 'enzoic.monitor.sync.checkpoint'
export const LAST_SYNC_KEY = 'enzoic.monitor.sync.last'

export interface SyncCheckpoint {
  /** The tenants of this pass, in order (a resumed run keeps them). */
  tenants: string[]
  tenantIndex: number
  /** Where the next unread page starts in that tenant. */
  nextResults?: string
  startRow: number
  enrolled: number
  alreadyExisted: number
  skipped: number
  startedAt: string
}

export interface SyncProgress {
  tenantId: string
  tenantIndex: number
  tenants: number
  /**
   * Users read so far in this pass (including those before a resume). Always
   * `seen = enrolled + alreadyExisted + skipped + pending`.
   */
  seen: number
  /** Users of all tenants, when FusionAuth reported totals. */
  total?: number
  /** Newly enrolled by Enzoic (a dry run: would be enrolled, i.e. sent in a batch that was not sent). */
  enrolled: number
  /** Sent, but Enzoic already monitored them. */
  alreadyExisted: number
  /** Inactive or without an email: not sent. */
  skipped: number
  /** Eligible users read but not sent yet (the batch being filled); 0 in a summary and after an interruption. */
  pending: number
  batches: number
}

export interface SyncSummary extends SyncProgress {
  resumed: boolean
  dryRun: boolean
  /**
   * Enrolled emails that several users share (an email is unique per tenant only): Enzoic monitors the address
   * once, with the customData of one of them, and an alert for it acts on every one. Counted over the users this
   * run read: absent after a resume (the users read before it are not known again).
   */
  shared?: { emails: number, users: number }
  /** Monitored entries whose user no longer exists (`stale`), and what Enzoic removed. */
  pruned?: { stale: number, deleted: number, notFound: number }
  seconds: number
}

export interface SyncOptions {
  gateway: FusionAuthGateway
  enzoic: EnzoicApi
  store: Store
  /** Only this tenant; otherwise FUSIONAUTH_TENANT_IDS, otherwise every tenant FusionAuth lists. */
  tenantIds?: readonly string[]
  dryRun?: boolean
  prune?: boolean
  /** Forget a saved checkpoint and start over. */
  restart?: boolean
  pageSize?: number
  batchSize?: number
  webhookID?: string
  signal?: AbortSignal
  onProgress?: (p: SyncProgress) => void
  onBatch?: (info: { size: number, added: number, alreadyExisted: number }) => void
}

export class SyncInterruptedError extends BridgeError {
  readonly code = 'BRIDGE_SYNC_INTERRUPTED'
  constructor (readonly progress: SyncProgress, readonly dryRun = false) {
    super(dryRun
      ? `dry run interrupted after ${progress.seen} users read (${progress.enrolled} would be enrolled, ${progress.skipped} skipped): nothing was changed`
      : `sync interrupted after ${progress.seen} users read (${progress.enrolled} enrolled, ${progress.alreadyExisted} already monitored, ${progress.skipped} skipped): run it again to resume`)
  }
}

async function resolveTenants (gateway: FusionAuthGateway, tenantIds: readonly string[] | undefined): Promise<string[]> {
  if (tenantIds !== undefined && tenantIds.length > 0) return [...tenantIds]
  return (await gateway.listTenants()).map(t => t.id)
}

export async function syncMonitoring (opts: SyncOptions): Promise<SyncSummary> {
  const started = Date.now()
  // The Enzoic credentials first (one cheap authenticated read): a wrong key must not cost a pass over
  // FusionAuth's users before the first batch is refused.
  await opts.enzoic.listMonitoredUsers({ pageSize: 1 })
  const { cp, resumed } = await startingPoint(opts)
  const run = new SyncRun(opts, cp)
  for (let ti = cp.tenantIndex; ti < cp.tenants.length; ti++) await run.readTenant(ti)
  await run.flush()

  const dryRun = opts.dryRun === true
  const pruned = run.seenUserIds === undefined ? undefined : await prune(opts, run.seenUserIds, dryRun)
  const { progress } = run
  if (!dryRun) {
    await opts.store.kv.set(CHECKPOINT_KEY, undefined)
    await opts.store.kv.set(LAST_SYNC_KEY, JSON.stringify({
      finishedAt: new Date().toISOString(),
      enrolled: progress.enrolled,
      alreadyExisted: progress.alreadyExisted,
      skipped: progress.skipped,
      tenants: cp.tenants,
      pruned
    }))
  }
  const shared = resumed ? undefined : run.shared.count()
  return { ...progress, resumed, dryRun, pruned, ...(shared === undefined ? {} : { shared }), seconds: (Date.now() - started) / 1000 }
}

/** Where this run starts: an interrupted run's checkpoint (resumed), or the first page of the first tenant. */
async function startingPoint (opts: SyncOptions): Promise<{ cp: SyncCheckpoint, resumed: boolean }> {
  const { store, gateway } = opts
  const dryRun = opts.dryRun === true
  // A dry run changes nothing, not even the checkpoint of an interrupted real run.
  if (opts.restart === true && !dryRun) await store.kv.set(CHECKPOINT_KEY, undefined)
  const saved = dryRun ? undefined : await store.kv.get(CHECKPOINT_KEY)
  if (saved === undefined) {
    const tenants = await resolveTenants(gateway, opts.tenantIds)
    const cp = { tenants, tenantIndex: 0, startRow: 0, enrolled: 0, alreadyExisted: 0, skipped: 0, startedAt: new Date().toISOString() }
    return { cp, resumed: false }
  }
  const cp = JSON.parse(saved) as SyncCheckpoint
  if (opts.tenantIds !== undefined && opts.tenantIds.join(',') !== cp.tenants.join(',')) {
    throw new Error('a sync of other tenants was interrupted: finish it first, or start over with --restart')
  }
  return { cp, resumed: true }
}

/**
 * Which enrolled addresses several users share: the first 64 bits of each eligible user's usernameHash (8 bytes
 * a user — 8 MB for a million — rather than a map of emails), sorted and counted at the end. Two different emails
 * agree in 64 bits with a chance of about n²/2⁶⁵: none in practice.
 */
export class SharedEmailTally {
  #hashes = new BigUint64Array(1024)
  #count = 0

  add (hashHex: string): void {
    if (this.#count === this.#hashes.length) {
      const bigger = new BigUint64Array(this.#hashes.length * 2)
      bigger.set(this.#hashes)
      this.#hashes = bigger
    }
    this.#hashes[this.#count++] = BigInt(`0x${hashHex.slice(0, 16)}`)
  }

  /** Emails held by more than one user, and how many users hold them. */
  count (): { emails: number, users: number } {
    const sorted = this.#hashes.subarray(0, this.#count).sort()
    let emails = 0
    let users = 0
    for (let i = 0; i < sorted.length;) {
      let j = i + 1
      while (j < sorted.length && sorted[j] === sorted[i]) j++
      if (j - i > 1) { emails++; users += j - i }
      i = j
    }
    return { emails, users }
  }
}

/** One pass over the users: pages read into batches, each batch sent and checkpointed. */
class SyncRun {
  readonly shared = new SharedEmailTally()
  readonly progress: SyncProgress
  readonly seenUserIds: Set<string> | undefined
  readonly #totals = new Map<string, number>()
  readonly #pageSize: number
  readonly #batchSize: number
  readonly #dryRun: boolean
  #batch: Array<{ usernameHash: string, customData: string }> = []
  /** Where reading would resume if everything in the batch were committed. */
  #position: Pick<SyncCheckpoint, 'tenantIndex' | 'nextResults' | 'startRow'>
  #pendingSkipped = 0

  constructor (readonly opts: SyncOptions, public cp: SyncCheckpoint) {
    this.#pageSize = opts.pageSize ?? 1000
    this.#batchSize = Math.min(opts.batchSize ?? ENZOIC_MAX_BATCH, ENZOIC_MAX_BATCH)
    this.#dryRun = opts.dryRun === true
    this.seenUserIds = opts.prune === true ? new Set<string>() : undefined
    this.#position = { tenantIndex: cp.tenantIndex, nextResults: cp.nextResults, startRow: cp.startRow }
    this.progress = {
      tenantId: cp.tenants[cp.tenantIndex] ?? '',
      tenantIndex: cp.tenantIndex,
      tenants: cp.tenants.length,
      seen: cp.enrolled + cp.alreadyExisted + cp.skipped,
      enrolled: cp.enrolled,
      alreadyExisted: cp.alreadyExisted,
      skipped: cp.skipped,
      pending: 0,
      batches: 0
    }
  }

  /** Sends the batch (unless a dry run) and saves the position after it. */
  async flush (): Promise<void> {
    const { opts, progress } = this
    if (this.#batch.length > 0) {
      let added = this.#batch.length
      let existed = 0
      if (!this.#dryRun) ({ added, alreadyExisted: existed } = await opts.enzoic.addMonitoredUsers(this.#batch, opts.webhookID))
      progress.enrolled += added
      progress.alreadyExisted += existed
      progress.batches++
      opts.onBatch?.({ size: this.#batch.length, added, alreadyExisted: existed })
      this.#batch = []
    }
    progress.skipped += this.#pendingSkipped
    this.#pendingSkipped = 0
    this.cp = { ...this.cp, ...this.#position, enrolled: progress.enrolled, alreadyExisted: progress.alreadyExisted, skipped: progress.skipped }
    if (!this.#dryRun) await opts.store.kv.set(CHECKPOINT_KEY, JSON.stringify(this.cp))
  }

  /** Every page of one tenant (from the checkpoint's position in the tenant it stopped in). */
  async readTenant (ti: number): Promise<void> {
    const { opts, progress, cp } = this
    const tenantId = cp.tenants[ti]!
    progress.tenantId = tenantId
    progress.tenantIndex = ti
    let nextResults = ti === cp.tenantIndex ? cp.nextResults : undefined
    let startRow = ti === cp.tenantIndex ? cp.startRow : 0
    for (;;) {
      if (opts.signal?.aborted === true) {
        await this.flush()
        throw new SyncInterruptedError({ ...progress }, this.#dryRun)
      }
      const page = await opts.gateway.searchUsers({ tenantId, pageSize: this.#pageSize, nextResults, startRow })
      this.#count(tenantId, page.total)
      await this.#take(page.users)
      startRow += page.users.length
      nextResults = page.nextResults
      const more = page.nextResults !== undefined
        ? page.users.length > 0
        : page.users.length === this.#pageSize && (page.total === undefined || startRow < page.total)
      this.#position = more ? { tenantIndex: ti, nextResults, startRow } : { tenantIndex: ti + 1, nextResults: undefined, startRow: 0 }
      // Skipped users of the unsent batch are counted when it is sent (the checkpoint holds only sent
      // pages), but shown now, so that what is shown always adds up to what was read.
      opts.onProgress?.({ ...progress, skipped: progress.skipped + this.#pendingSkipped, pending: this.#batch.length })
      if (!more) return
    }
  }

  #count (tenantId: string, total: number | undefined): void {
    if (total === undefined || this.#totals.has(tenantId)) return
    this.#totals.set(tenantId, total)
    this.progress.total = [...this.#totals.values()].reduce((a, b) => a + b, 0)
  }

  /** A page's users into the batch: active users with an email; the rest counted as skipped. */
  async #take (users: FusionAuthUser[]): Promise<void> {
    const eligible = users.filter(u => u.active && u.email !== undefined && u.email !== '')
    // A batch never splits a page, so a checkpoint always falls on a page boundary.
    if (this.#batch.length + eligible.length > this.#batchSize) await this.flush()
    for (const u of users) this.seenUserIds?.add(u.id)
    for (const u of eligible) {
      const hash = usernameHash(u.email!)
      this.shared.add(hash)
      this.#batch.push({ usernameHash: hash, customData: formatCustomData(u) })
    }
    this.#pendingSkipped += users.length - eligible.length
    this.progress.seen += users.length
  }
}

/**
 * Removes monitored entries written by this bridge (`fusionauth:` customData) whose user no longer
 * exists. Users not seen in this pass are checked one by one before removal, so a resumed pass (which
 * did not see every user) never removes a live one. Entries enrolled by other means are left alone.
 */
async function prune (opts: SyncOptions, seen: Set<string>, dryRun: boolean): Promise<NonNullable<SyncSummary['pruned']>> {
  const { enzoic, gateway } = opts
  const tenants = opts.tenantIds === undefined ? undefined : new Set(opts.tenantIds)
  const gone: string[] = []
  let pagingToken: string | undefined
  do {
    const page = await enzoic.listMonitoredUsers({ pagingToken, pageSize: 1000 })
    for (const m of page.users) {
      const ids = parseCustomData(m.customData)
      if (ids === undefined || seen.has(ids.userId)) continue
      if (tenants !== undefined && !tenants.has(ids.tenantId)) continue
      if (await gateway.getUser(ids.userId, ids.tenantId) === undefined) gone.push(m.usernameHash)
    }
    pagingToken = page.pagingToken
  } while (pagingToken !== undefined && pagingToken !== '')
  let deleted = 0
  let notFound = 0
  if (!dryRun) {
    for (let i = 0; i < gone.length; i += ENZOIC_MAX_BATCH) {
      const r = await enzoic.removeMonitoredUsers(gone.slice(i, i + ENZOIC_MAX_BATCH))
      deleted += r.deleted
      notFound += r.notFound
    }
  }
  return { stale: gone.length, deleted, notFound }
}
