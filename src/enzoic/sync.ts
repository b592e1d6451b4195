import { formatCustomData, parseCustomData, usernameHash } from '../alerts/normalise.js'
import type { FusionAuthGateway } from '../fusionauth/index.js'
import type { Store } from '../store/types.js'
import { ENZOIC_MAX_BATCH, type EnzoicApi } from './client.js'

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

export class SyncInterruptedError extends Error {
  readonly code = 'BRIDGE_SYNC_INTERRUPTED'
  constructor (readonly progress: SyncProgress, readonly dryRun = false) {
    super(dryRun
      ? `dry run interrupted after ${progress.seen} users read (${progress.enrolled} would be enrolled, ${progress.skipped} skipped): nothing was changed`
      : `sync interrupted after ${progress.seen} users read (${progress.enrolled} enrolled, ${progress.alreadyExisted} already monitored, ${progress.skipped} skipped): run it again to resume`)
    this.name = 'SyncInterruptedError'
  }
}

async function resolveTenants (gateway: FusionAuthGateway, tenantIds: readonly string[] | undefined): Promise<string[]> {
  if (tenantIds !== undefined && tenantIds.length > 0) return [...tenantIds]
  return (await gateway.listTenants()).map(t => t.id)
}

export async function syncMonitoring (opts: SyncOptions): Promise<SyncSummary> {
  const { gateway, enzoic, store } = opts
  const started = Date.now()
  const pageSize = opts.pageSize ?? 1000
  const batchSize = Math.min(opts.batchSize ?? ENZOIC_MAX_BATCH, ENZOIC_MAX_BATCH)
  const dryRun = opts.dryRun === true

  // The Enzoic credentials first (one cheap authenticated read): a wrong key must not cost a pass over
  // FusionAuth's users before the first batch is refused.
  await enzoic.listMonitoredUsers({ pageSize: 1 })

  // A dry run changes nothing, not even the checkpoint of an interrupted real run.
  if (opts.restart === true && !dryRun) await store.kv.set(CHECKPOINT_KEY, undefined)
  const saved = dryRun ? undefined : await store.kv.get(CHECKPOINT_KEY)
  let cp: SyncCheckpoint
  const resumed = saved !== undefined
  if (saved !== undefined) {
    cp = JSON.parse(saved) as SyncCheckpoint
    if (opts.tenantIds !== undefined && opts.tenantIds.join(',') !== cp.tenants.join(',')) {
      throw new Error('a sync of other tenants was interrupted: finish it first, or start over with --restart')
    }
  } else {
    cp = { tenants: await resolveTenants(gateway, opts.tenantIds), tenantIndex: 0, startRow: 0, enrolled: 0, alreadyExisted: 0, skipped: 0, startedAt: new Date().toISOString() }
  }

  const progress: SyncProgress = {
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
  const totals = new Map<string, number>()
  const seenUserIds = opts.prune === true ? new Set<string>() : undefined

  let batch: Array<{ usernameHash: string, customData: string }> = []
  // Where reading would resume if everything in `batch` were committed.
  let position = { tenantIndex: cp.tenantIndex, nextResults: cp.nextResults, startRow: cp.startRow }
  let pendingSkipped = 0

  async function flush (): Promise<void> {
    if (batch.length > 0) {
      let added = batch.length
      let existed = 0
      if (!dryRun) {
        const r = await enzoic.addMonitoredUsers(batch, opts.webhookID)
        added = r.added
        existed = r.alreadyExisted
      }
      progress.enrolled += added
      progress.alreadyExisted += existed
      progress.batches++
      opts.onBatch?.({ size: batch.length, added, alreadyExisted: existed })
      batch = []
    }
    progress.skipped += pendingSkipped
    pendingSkipped = 0
    cp = { ...cp, ...position, enrolled: progress.enrolled, alreadyExisted: progress.alreadyExisted, skipped: progress.skipped }
    if (!dryRun) await store.kv.set(CHECKPOINT_KEY, JSON.stringify(cp))
  }

  for (let ti = cp.tenantIndex; ti < cp.tenants.length; ti++) {
    const tenantId = cp.tenants[ti]!
    progress.tenantId = tenantId
    progress.tenantIndex = ti
    let nextResults = ti === cp.tenantIndex ? cp.nextResults : undefined
    let startRow = ti === cp.tenantIndex ? cp.startRow : 0
    for (;;) {
      if (opts.signal?.aborted === true) {
        await flush()
        throw new SyncInterruptedError({ ...progress }, dryRun)
      }
      const page = await gateway.searchUsers({ tenantId, pageSize, nextResults, startRow })
      if (page.total !== undefined && !totals.has(tenantId)) {
        totals.set(tenantId, page.total)
        progress.total = [...totals.values()].reduce((a, b) => a + b, 0)
      }
      const eligible = page.users.filter(u => u.active && u.email !== undefined && u.email !== '')
      // A batch never splits a page, so a checkpoint always falls on a page boundary.
      if (batch.length + eligible.length > batchSize) await flush()
      for (const u of page.users) seenUserIds?.add(u.id)
      for (const u of eligible) batch.push({ usernameHash: usernameHash(u.email!), customData: formatCustomData(u) })
      pendingSkipped += page.users.length - eligible.length
      progress.seen += page.users.length
      startRow += page.users.length
      nextResults = page.nextResults
      const more = page.nextResults !== undefined ? page.users.length > 0 : page.users.length === pageSize && (page.total === undefined || startRow < page.total)
      position = more ? { tenantIndex: ti, nextResults, startRow } : { tenantIndex: ti + 1, nextResults: undefined, startRow: 0 }
      // Skipped users of the unsent batch are counted when it is sent (the checkpoint holds only sent
      // pages), but shown now, so that what is shown always adds up to what was read.
      opts.onProgress?.({ ...progress, skipped: progress.skipped + pendingSkipped, pending: batch.length })
      if (!more) break
    }
  }
  await flush()

  let pruned: SyncSummary['pruned']
  if (seenUserIds !== undefined) pruned = await prune(opts, seenUserIds, dryRun)

  if (!dryRun) {
    await store.kv.set(CHECKPOINT_KEY, undefined)
    await store.kv.set(LAST_SYNC_KEY, JSON.stringify({ finishedAt: new Date().toISOString(), enrolled: progress.enrolled, alreadyExisted: progress.alreadyExisted, skipped: progress.skipped, tenants: cp.tenants, pruned }))
  }
  return { ...progress, resumed, dryRun, pruned, seconds: (Date.now() - started) / 1000 }
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
