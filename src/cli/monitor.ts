import { existsSync } from 'node:fs'
import { Command } from 'commander'
import cliProgress from 'cli-progress'
import { SyncInterruptedError, type SyncProgress, type SyncSummary } from '../enzoic/sync.js'
import { monitorStatus, runMonitorSync, SyncFailedError } from '../operations/enzoic.js'
import { isPostgresUrl } from '../store/index.js'
import { action } from './command.js'
import type { CliContext } from './context.js'
import { retryNotice, withEnzoic } from './enzoic-client.js'
import { classify, CliError, EXIT } from './exit.js'
import { ENZOIC_ENV, FUSIONAUTH_ENV, STORE_ENV, withHelp } from './help.js'
import { outputTo, shortTime } from './output.js'
import { openCommandStore } from './store.js'

interface ProgressReporter { update (p: SyncProgress): void, stop (): void }

function progressBar (ctx: CliContext, dryRun: boolean): ProgressReporter {
  const bar = new cliProgress.SingleBar({
    format: dryRun
      ? 'dry run [{bar}] {value}/{total} users read | {would} would be enrolled, {skipped} skipped | tenant {tenant} | {eta_formatted} left'
      : 'syncing [{bar}] {value}/{total} users read | {enrolled} enrolled, {already} already monitored, {skipped} skipped, {pending} to send | tenant {tenant} | {eta_formatted} left',
    stream: ctx.stderr,
    hideCursor: true
  }, cliProgress.Presets.shades_classic)
  let started = false
  return {
    update (p) {
      const payload = { tenant: `${p.tenantIndex + 1}/${p.tenants}`, enrolled: p.enrolled, already: p.alreadyExisted, skipped: p.skipped, pending: p.pending, would: p.enrolled + p.pending }
      if (!started) { bar.start(p.total ?? p.seen, p.seen, payload); started = true }
      if (p.total !== undefined) bar.setTotal(Math.max(p.total, p.seen))
      bar.update(p.seen, payload)
    },
    stop () { if (started) bar.stop() }
  }
}

/** Progress of `monitor sync`: a bar on a terminal, a line every 5 s otherwise. Numbers always add up to `seen`. */
function progressReporter (ctx: CliContext, dryRun: boolean): ProgressReporter {
  if (ctx.stderrIsTTY && ctx.env.CI === undefined) return progressBar(ctx, dryRun)
  const { err } = outputTo(ctx)
  let last = 0
  return {
    update (p) {
      if (ctx.now() - last < 5000) return
      last = ctx.now()
      err(progressLine(p, dryRun))
    },
    stop () {}
  }
}

/** One progress line: `seen = enrolled + already monitored + skipped + to send`. */
export function progressLine (p: SyncProgress, dryRun: boolean): string {
  const read = `${p.seen}${p.total === undefined ? '' : `/${p.total}`} users read`
  const tenant = `tenant ${p.tenantIndex + 1}/${p.tenants}`
  return dryRun
    ? `dry run: ${read}: ${p.enrolled + p.pending} would be enrolled, ${p.skipped} skipped; ${tenant}`
    : `sync: ${read}: ${p.enrolled} enrolled, ${p.alreadyExisted} already monitored, ${p.skipped} skipped, ${p.pending} to send; ${tenant}`
}

function summaryLines (s: SyncSummary): string[] {
  const lines = s.dryRun
    ? [`Dry run: would enrol ${s.enrolled} users (some may be monitored already) from ${s.tenants} tenant(s) in ${s.batches} batch(es), ${s.seconds.toFixed(1)} s; nothing was sent to Enzoic.`]
    : [`Enrolled ${s.enrolled} users (${s.alreadyExisted} already monitored) from ${s.tenants} tenant(s) in ${s.batches} batch(es), ${s.seconds.toFixed(1)} s${s.resumed ? ', resumed from a checkpoint' : ''}.`]
  lines.push(`Skipped ${s.skipped} users (inactive or without an email); ${s.seen} users read in all.`)
  if (s.shared !== undefined && s.shared.emails > 0) {
    lines.push(`${s.shared.emails} ${s.shared.emails === 1 ? 'email is' : 'emails are'} shared by ${s.shared.users} users (in different tenants): ` +
      'Enzoic monitors each address once, and an alert for one acts on all of them.')
  }
  if (s.pruned !== undefined) lines.push(`Prune: ${s.pruned.stale} monitored entries belong to users that no longer exist${s.dryRun ? ' (not removed: dry run)' : `; removed ${s.pruned.deleted}`}.`)
  return lines
}

function interruptedLine (p: SyncProgress, dryRun: boolean): string {
  return dryRun
    ? `Dry run interrupted after ${p.seen} users read: ${p.enrolled} would be enrolled, ${p.skipped} skipped. Nothing was changed; a dry run keeps no checkpoint.`
    : `Interrupted after ${p.seen} users read: ${p.enrolled} enrolled, ${p.alreadyExisted} already monitored, ${p.skipped} skipped. Progress is saved: run the same command again to resume.`
}

/** The CLI's words for a sync that failed: the store, Enzoic or FusionAuth, and whether running it again resumes. */
function explainSyncError (e: unknown): unknown {
  if (!(e instanceof SyncFailedError)) return classify(e) ?? e
  const cause = e.cause
  const known = classify(cause, e.progressSaved ? ' — progress is saved; run again to resume' : '')
  if (known !== undefined) return known
  if (cause instanceof Error && /interrupted: finish it first/.test(cause.message)) return new CliError(cause.message, EXIT.usage)
  return cause
}

interface SyncOptions { tenant?: string, dryRun?: boolean, prune?: boolean, restart?: boolean, webhook?: string, json?: boolean }

async function sync (ctx: CliContext, opts: SyncOptions): Promise<typeof EXIT.interrupted | undefined> {
  const { out, err, outJson } = outputTo(ctx)
  const config = ctx.config(['enzoic', 'fusionauth'])
  const dryRun = opts.dryRun === true
  const abort = new AbortController()
  // Taken once: a second Ctrl-C ends the command at once (exit 130), without waiting for the page.
  const release = ctx.onInterrupt(() => {
    err(dryRun ? '\nstopping after the current page…' : '\nstopping after the current page; progress is saved (run again to resume)…')
    abort.abort()
  })
  const progress = progressReporter(ctx, dryRun)
  try {
    const s = await runMonitorSync(config, {
      tenant: opts.tenant,
      dryRun,
      prune: opts.prune,
      restart: opts.restart,
      webhook: opts.webhook,
      signal: abort.signal,
      onProgress: p => progress.update(p),
      onRetry: retryNotice(ctx)
    })
    progress.stop()
    if (opts.json === true) outJson(s)
    else for (const l of summaryLines(s)) out(l)
  } catch (e) {
    progress.stop()
    if (!(e instanceof SyncInterruptedError)) throw explainSyncError(e)
    if (opts.json === true) outJson({ interrupted: true, dryRun, ...e.progress })
    err(interruptedLine(e.progress, dryRun))
    return EXIT.interrupted
  } finally {
    release()
  }
}

export function monitorCommand (ctx: CliContext): Command {
  const { out, outJson } = outputTo(ctx)
  const monitor = new Command('monitor').description('Enzoic Breach Monitoring by User for FusionAuth users')
  withHelp(monitor, { examples: ['breach-bridge enzoic monitor sync --dry-run', 'breach-bridge enzoic monitor status'], env: [...ENZOIC_ENV, ...FUSIONAUTH_ENV, ...STORE_ENV] })

  withHelp(monitor.command('sync')
    .description('enrol every active FusionAuth user with an email (checks the Enzoic credentials first; resumable; batches of ≤15,000)')
    .option('--tenant <id>', 'only this tenant: its id, an unambiguous prefix of it (at least 4 characters), or its name (a prefix or a name needs GET /api/tenant)')
    .option('--dry-run', 'count what would be enrolled; change nothing (not even a saved checkpoint)')
    .option('--prune', 'also remove monitored entries whose FusionAuth user no longer exists')
    .option('--restart', 'ignore an interrupted run\'s checkpoint and start over')
    .option('--webhook <id>', 'deliver these users\' alerts to this webhook (default: the account\'s default)')
    .option('--json', 'the summary as one JSON object (progress still on stderr)')
    .action(action(async (opts: SyncOptions) => await sync(ctx, opts))), {
    examples: [
      'breach-bridge enzoic monitor sync --dry-run',
      'breach-bridge enzoic monitor sync                 # Ctrl-C stops after the current page; run again to resume',
      'breach-bridge enzoic monitor sync --tenant 0bc1…  --prune'
    ],
    env: [...ENZOIC_ENV, ...FUSIONAUTH_ENV, ...STORE_ENV.map(v => `${v}: the checkpoint of an interrupted run lives there`)]
  })

  withHelp(monitor.command('status')
    .description('how many users Enzoic monitors, the last sync, a pending resume')
    .option('--json', 'as JSON: {"monitored", "lastSync", "interruptedSyncWaiting"}')
    .action(action(async (opts: { json?: boolean }) => {
      const status = await withEnzoic(ctx, async (api, config) => await monitorStatus(api, async () =>
        isPostgresUrl(config.database) || existsSync(config.database) ? await openCommandStore(config.database) : undefined))
      if (opts.json === true) {
        outJson(status)
        return
      }
      out(`Enzoic monitors ${status.monitored} user(s) for this account.`)
      const last = status.lastSync
      if (last !== null) out(`Last sync: ${shortTime(last.finishedAt)}, ${last.enrolled} enrolled, ${last.alreadyExisted} already monitored.`)
      if (status.interruptedSyncWaiting) out('An interrupted sync is waiting: run `breach-bridge enzoic monitor sync` to resume it.')
    })), { examples: ['breach-bridge enzoic monitor status', 'breach-bridge enzoic monitor status --json'], env: [...ENZOIC_ENV, ...STORE_ENV] })

  return monitor
}
