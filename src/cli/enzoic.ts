import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, openSync, readFileSync, unlinkSync, writeSync, type Stats } from 'node:fs'
import { existsSync } from 'node:fs'
import { Command, Option } from 'commander'
import cliProgress from 'cli-progress'
import { loadConfig, parseDuration, type Config } from '../config.js'
import { createEnzoicClient, type EnzoicApi } from '../enzoic/client.js'
import { CHECKPOINT_KEY, LAST_SYNC_KEY, SyncInterruptedError, syncMonitoring, type SyncProgress, type SyncSummary } from '../enzoic/sync.js'
import { createFusionAuthGateway } from '../fusionauth/index.js'
import { isPostgresUrl, openStore } from '../store/index.js'
import type { AlertRecord } from '../alerts/types.js'
import { markDeliveries, waitForArrival, type Arrival } from '../operations/delivery.js'
import { openCommandStore } from './alerts.js'
import { classify, CliError, EXIT } from './exit.js'
import { ENZOIC_ENV, FUSIONAUTH_ENV, STORE_ENV, withHelp } from './help.js'
import { err, inert, out, outJson, shortTime, table } from './output.js'

export function enzoicClient (config: Config): EnzoicApi {
  return createEnzoicClient({
    baseUrl: config.enzoicApiUrl,
    apiKey: config.enzoicApiKey!,
    apiSecret: config.enzoicApiSecret!,
    onRetry: ({ call, attempt, status, waitMs }) => err(`Enzoic ${call} failed (${status ?? 'no answer'}), attempt ${attempt}; retrying in ${Math.round(waitMs / 100) / 10} s`)
  })
}

/** Runs fn with an Enzoic client; Enzoic errors become one clear line and their exit code. */
async function withEnzoic<T> (fn: (api: EnzoicApi, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env, ['enzoic'])
  const api = enzoicClient(config)
  try {
    return await fn(api, config)
  } catch (e) {
    throw classify(e) ?? e
  } finally {
    await api.close()
  }
}

/** The env file `--write-env` appends to, opened (and made 0600) before anything is registered. */
export interface EnvFile {
  readonly path: string
  /** It did not exist before. */
  readonly created: boolean
  /** Appends ENZOIC_WEBHOOK_CREDENTIALS; an existing value is kept in front of the new pair (rotation). */
  append (key: string, secret: string): { rotated: boolean }
  /** Closes it; `discard` removes a file this run created and left empty. */
  close (discard?: boolean): void
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0

/**
 * Opens an env file for a secret, safely: a symbolic link is refused (lstat before, O_NOFOLLOW when
 * opening, so a link put in its place in between fails too), only a regular file is accepted, and the file
 * is made 0600 (fchmod on the open descriptor) before any secret is written to it.
 */
export function openEnvFile (file: string): EnvFile {
  const refuseLink = (): CliError => new CliError(`--write-env ${file} is a symbolic link: refusing to write a secret through it; give the path of the file itself`, EXIT.usage)
  let before: Stats | undefined
  try {
    before = lstatSync(file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(`--write-env ${file}: ${(e as NodeJS.ErrnoException).code ?? 'cannot read it'}`, EXIT.usage)
  }
  if (before?.isSymbolicLink() === true) throw refuseLink()
  if (before !== undefined && !before.isFile()) throw new CliError(`--write-env ${file} is not a regular file`, EXIT.usage)
  let fd: number
  try {
    fd = openSync(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | O_NOFOLLOW, 0o600)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ELOOP') throw refuseLink()
    throw new CliError(`--write-env ${file}: cannot open it (${code ?? 'error'})`, EXIT.usage)
  }
  try {
    if (!fstatSync(fd).isFile()) throw new CliError(`--write-env ${file} is not a regular file`, EXIT.usage)
    fchmodSync(fd, 0o600)
  } catch (e) {
    closeSync(fd)
    if (e instanceof CliError) throw e
    throw new CliError(`--write-env ${file}: cannot make it mode 0600 (${(e as NodeJS.ErrnoException).code ?? 'error'})`, EXIT.usage)
  }
  const created = before === undefined
  let open = true
  return {
    path: file,
    created,
    append (key, secret) {
      let previous: string | undefined
      for (const l of readFileSync(fd, 'utf8').split(/\r?\n/)) {
        const m = /^\s*(?:export\s+)?ENZOIC_WEBHOOK_CREDENTIALS\s*=\s*["']?([^"'#]*)["']?\s*$/.exec(l)
        if (m !== null && m[1]!.trim() !== '') previous = m[1]!.trim()
      }
      const value = previous === undefined ? `${key}:${secret}` : `${previous},${key}:${secret}`
      const stamp = new Date().toISOString()
      writeSync(fd, `\n# Enzoic webhook ${previous === undefined ? 'credentials' : 'credentials rotated (old pair kept: remove it once Enzoic uses the new webhook)'}, ${stamp}\nENZOIC_WEBHOOK_CREDENTIALS=${value}\n`)
      fsyncSync(fd)
      return { rotated: previous !== undefined }
    },
    close (discard = false) {
      if (!open) return
      open = false
      const empty = fstatSync(fd).size === 0
      closeSync(fd)
      if (discard && created && empty) try { unlinkSync(file) } catch {}
    }
  }
}

/** Kept for callers of the old API: opens, appends, closes. */
export function writeCredentials (file: string, key: string, secret: string): { rotated: boolean } {
  const f = openEnvFile(file)
  try {
    return f.append(key, secret)
  } finally {
    f.close()
  }
}

function kindOf (a: AlertRecord): string {
  return a.test
    ? 'a test alert (stored; outcome test, FusionAuth not called)'
    : `a breach alert (state ${a.state}${a.outcome === undefined ? '' : `, outcome ${a.outcome}`})`
}

function describeArrival (a: Arrival): string {
  const secs = (a.afterMs / 1000).toFixed(1)
  if (a.kind === 'ignored') return `Received after ${secs} s: classified as ${inert(a.reason)}, answered "ignored" (not stored).`
  const al = a.alert
  // Breach data is attacker-controlled: every value goes through inert (src/cli/terminal.ts).
  const about = `${al.email === undefined ? '' : ` for ${inert(al.email)}`}${al.exposureId === undefined ? '' : `, exposure ${inert(al.exposureId)}`}`
  if (a.kind === 'redelivery') {
    return `Received after ${secs} s: a re-delivery of alert ${al.id}${about} (first received ${shortTime(al.receivedAt)}; the bridge answered "duplicate"; ` +
      `${al.deliveries} deliveries so far), classified as ${kindOf(al)}. Details: breach-bridge alerts show ${al.id}`
  }
  return `Received after ${secs} s: alert ${al.id}${about}, classified as ${kindOf(al)}. Details: breach-bridge alerts show ${al.id}`
}

function arrivalJson (a: Arrival): Record<string, unknown> {
  if (a.kind === 'ignored') return { kind: a.kind, afterMs: a.afterMs, reason: a.reason }
  return { kind: a.kind, afterMs: a.afterMs, alertId: a.alert.id, test: a.alert.test, state: a.alert.state, outcome: a.alert.outcome, deliveries: a.alert.deliveries }
}

function webhooksCommand (): Command {
  const webhooks = new Command('webhooks').description('Enzoic webhook registration and the test call')
  withHelp(webhooks, { examples: ['breach-bridge enzoic webhooks list', 'breach-bridge enzoic webhooks test --wait 60s'], env: ENZOIC_ENV })

  withHelp(webhooks.command('register')
    .description('register this bridge\'s public URL with Enzoic; prints the webhook key and secret once (or writes them to --write-env)')
    .requiredOption('--url <url>', 'public https URL of POST /webhooks/enzoic, e.g. https://bridge.example.com/webhooks/enzoic')
    .option('--default', 'make it the account\'s default webhook (the first one always is)')
    .option('--write-env <file>', 'append ENZOIC_WEBHOOK_CREDENTIALS to this env file (made mode 0600 first; a symbolic link is refused)')
    .option('--insecure-url', 'allow a non-https URL (testing only)')
    .option('--json', 'as JSON: {"webhookID", "url", "default", "writtenTo"?, "rotated"?, "credentials"? (only without --write-env)}')
    .action(async (opts: { url: string, default?: boolean, writeEnv?: string, insecureUrl?: boolean, json?: boolean }) => {
      let url: URL
      try { url = new URL(opts.url) } catch { throw new CliError(`--url: not a URL: ${opts.url}`) }
      if (url.protocol !== 'https:' && opts.insecureUrl !== true) {
        throw new CliError('--url must be https: Enzoic sends the webhook secret as Basic auth (use --insecure-url only for tests)')
      }
      loadConfig(process.env, ['enzoic'])
      // Before anything is registered: a file we cannot write must not leave a webhook nobody can authenticate.
      const target = opts.writeEnv === undefined ? undefined : openEnvFile(opts.writeEnv)
      let registered = false
      try {
        await withEnzoic(async api => {
          const w = await api.registerWebhook(url.href, opts.default === true)
          registered = true
          const head = `Registered webhook ${inert(w.webhookID)} → ${inert(w.url)}${w.default === true ? ' (default)' : ''}`
          if (target !== undefined) {
            let rotated: boolean
            try {
              rotated = target.append(w.key, w.secret).rotated
            } catch (e) {
              let undone = false
              try { await api.deleteWebhook(w.webhookID); undone = true } catch {}
              const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message
              throw new CliError(`cannot write ${target.path} (${code}): ${undone
                ? 'the webhook was deleted again, nothing changed'
                : `delete webhook ${w.webhookID} (breach-bridge enzoic webhooks delete ${w.webhookID}) and try again`}`, EXIT.failure)
            }
            if (opts.json === true) {
              outJson({ webhookID: w.webhookID, url: w.url, default: w.default === true, writtenTo: target.path, rotated })
            } else {
              out(head)
              out(`Wrote ENZOIC_WEBHOOK_CREDENTIALS to ${target.path} (mode 0600)${rotated ? ', keeping the previous pair for the switch-over' : ''}.`)
              out('Restart the bridge to load it.')
            }
          } else if (opts.json === true) {
            outJson({ webhookID: w.webhookID, url: w.url, default: w.default === true, credentials: `${w.key}:${w.secret}` })
          } else {
            out(head)
            out('')
            out('Key and secret (shown once; Enzoic sends them as Basic auth). Add to the bridge\'s environment:')
            out(`  ENZOIC_WEBHOOK_CREDENTIALS=${w.key}:${w.secret}`)
            out('When rotating, keep the old pair too until the new webhook is in use: OLDKEY:OLDSECRET,NEWKEY:NEWSECRET')
          }
        })
      } finally {
        target?.close(!registered)
      }
    }), {
    examples: [
      'breach-bridge enzoic webhooks register --url https://bridge.example.com/webhooks/enzoic --write-env /etc/enzoic-bridge/bridge.env',
      'breach-bridge enzoic webhooks register --url https://bridge.example.com/webhooks/enzoic --default   # prints the pair once'
    ],
    env: ENZOIC_ENV
  })

  withHelp(webhooks.command('list')
    .description('the account\'s webhooks (secrets never printed)')
    .option('--json', 'a JSON array of webhooks')
    .action(async (opts: { json?: boolean }) => {
      await withEnzoic(async api => {
        // Never print secrets, even if Enzoic returned them.
        const list = (await api.listWebhooks()).map(({ secret: _s, key: _k, ...rest }) => rest)
        if (opts.json === true) outJson(list)
        else if (list.length === 0) out('No webhooks registered.')
        else out(table(['ID', 'DEFAULT', 'URL'], list.map(w => [w.webhookID, w.default === true ? 'yes' : '', w.url])))
      })
    }), { examples: ['breach-bridge enzoic webhooks list', 'breach-bridge enzoic webhooks list --json'], env: ENZOIC_ENV })

  withHelp(webhooks.command('delete')
    .description('delete a webhook by id')
    .argument('<id>', 'webhook id')
    .option('--json', 'as JSON: {"deleted": id}')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withEnzoic(async api => {
        await api.deleteWebhook(id)
        if (opts.json === true) outJson({ deleted: id })
        else out(`Deleted webhook ${id}.`)
      })
    }), { examples: ['breach-bridge enzoic webhooks delete 5f2a9c…'], env: ENZOIC_ENV })

  withHelp(webhooks.command('test')
    .description('ask Enzoic to POST a test notification to the default webhook; --wait watches the bridge\'s database for it (a new alert, a re-delivery of a stored one, or an ignored notification)')
    .addOption(new Option('--type <type>', 'test notification type').choices(['breachAlert', 'binAlert', 'piiAlert']).default('breachAlert'))
    .option('--wait [duration]', 'wait for it to arrive, e.g. 60s or 2m (default 60s)', false)
    .option('--json', 'as JSON: {"type", "requested", "waited", "received", "arrival"?}')
    .action(async (opts: { type: 'breachAlert' | 'binAlert' | 'piiAlert', wait: string | boolean, json?: boolean }) => {
      const waitMs = opts.wait === false ? undefined : opts.wait === true ? 60_000 : parseDuration(opts.wait)
      if (waitMs === undefined && opts.wait !== false) throw new CliError('--wait takes a duration like 60s or 2m')
      const say = opts.json === true ? err : out
      loadConfig(process.env, ['enzoic'])
      const store = waitMs === undefined ? undefined : await openCommandStore()
      try {
        const mark = store === undefined ? undefined : await markDeliveries(store)
        const since = Date.now()
        await withEnzoic(api => api.testWebhook(opts.type))
        say(`Enzoic accepted the ${opts.type} test request.`)
        if (store === undefined || mark === undefined) {
          if (opts.json === true) outJson({ type: opts.type, requested: true, waited: false })
          else out('Check `breach-bridge alerts list` in a few seconds, or run again with --wait 60s.')
          return
        }
        say(`Waiting up to ${Math.round(waitMs! / 1000)} s for it to reach the bridge…`)
        const arrival = await waitForArrival(store, mark, since + waitMs!)
        if (opts.json === true) outJson({ type: opts.type, requested: true, waited: true, received: arrival !== undefined, ...(arrival === undefined ? {} : { arrival: arrivalJson(arrival) }) })
        if (arrival === undefined) {
          err(`No test notification arrived within ${Math.round(waitMs! / 1000)} s. Likely causes:`)
          err('  - the URL is not reachable from Enzoic: DNS, firewall (Enzoic sends from 52.42.159.171), nginx not running — `webhooks list` shows the URL Enzoic uses;')
          err('  - credentials: ENZOIC_WEBHOOK_CREDENTIALS does not hold this webhook\'s key:secret (the bridge answers 401: look for "webhook credentials refused" in its log);')
          err('  - certificate: nginx refused Enzoic\'s client certificate (400/403 in nginx\'s log): check the Enzoic root CA file and the CN map;')
          err('  - this command reads BRIDGE_DATABASE: make sure it is the running bridge\'s database.')
          throw new CliError('test notification not received', EXIT.failure)
        }
        if (opts.json !== true) out(describeArrival(arrival))
      } finally {
        await store?.close()
      }
    }), {
    examples: ['breach-bridge enzoic webhooks test --wait 60s', 'breach-bridge enzoic webhooks test --type piiAlert --wait 2m --json'],
    env: [...ENZOIC_ENV, ...STORE_ENV.map(v => `${v} (with --wait)`)]
  })

  return webhooks
}

/** Progress of `monitor sync`: a bar on a terminal, a line every 5 s otherwise. Numbers always add up to `seen`. */
function progressReporter (dryRun: boolean): { update (p: SyncProgress): void, stop (): void } {
  if (process.stderr.isTTY === true && process.env.CI === undefined) {
    const bar = new cliProgress.SingleBar({
      format: dryRun
        ? 'dry run [{bar}] {value}/{total} users read | {would} would be enrolled, {skipped} skipped | tenant {tenant} | {eta_formatted} left'
        : 'syncing [{bar}] {value}/{total} users read | {enrolled} enrolled, {already} already monitored, {skipped} skipped, {pending} to send | tenant {tenant} | {eta_formatted} left',
      stream: process.stderr,
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
  let last = 0
  return {
    update (p) {
      if (Date.now() - last < 5000) return
      last = Date.now()
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
  if (s.pruned !== undefined) lines.push(`Prune: ${s.pruned.stale} monitored entries belong to users that no longer exist${s.dryRun ? ' (not removed: dry run)' : `; removed ${s.pruned.deleted}`}.`)
  return lines
}

function interruptedLine (p: SyncProgress, dryRun: boolean): string {
  return dryRun
    ? `Dry run interrupted after ${p.seen} users read: ${p.enrolled} would be enrolled, ${p.skipped} skipped. Nothing was changed; a dry run keeps no checkpoint.`
    : `Interrupted after ${p.seen} users read: ${p.enrolled} enrolled, ${p.alreadyExisted} already monitored, ${p.skipped} skipped. Progress is saved: run the same command again to resume.`
}

function monitorCommand (): Command {
  const monitor = new Command('monitor').description('Enzoic Breach Monitoring by User for FusionAuth users')
  withHelp(monitor, { examples: ['breach-bridge enzoic monitor sync --dry-run', 'breach-bridge enzoic monitor status'], env: [...ENZOIC_ENV, ...FUSIONAUTH_ENV, ...STORE_ENV] })

  withHelp(monitor.command('sync')
    .description('enrol every active FusionAuth user with an email (checks the Enzoic credentials first; resumable; batches of ≤15,000)')
    .option('--tenant <id>', 'only this tenant')
    .option('--dry-run', 'count what would be enrolled; change nothing (not even a saved checkpoint)')
    .option('--prune', 'also remove monitored entries whose FusionAuth user no longer exists')
    .option('--restart', 'ignore an interrupted run\'s checkpoint and start over')
    .option('--webhook <id>', 'deliver these users\' alerts to this webhook (default: the account\'s default)')
    .option('--json', 'the summary as one JSON object (progress still on stderr)')
    .action(async (opts: { tenant?: string, dryRun?: boolean, prune?: boolean, restart?: boolean, webhook?: string, json?: boolean }) => {
      const config = loadConfig(process.env, ['enzoic', 'fusionauth'])
      const dryRun = opts.dryRun === true
      const gateway = createFusionAuthGateway({ url: config.fusionAuthUrl!, apiKey: config.fusionAuthApiKey!, timeoutMs: config.fusionAuthTimeoutMs, tenantIds: config.tenantIds })
      const api = enzoicClient(config)
      let store
      try {
        store = await openStore(config.database, { role: 'command' })
      } catch (e) {
        await Promise.allSettled([gateway.close(), api.close()])
        throw classify(e) ?? e
      }
      const abort = new AbortController()
      const onSignal = (): void => {
        err(dryRun ? '\nstopping after the current page…' : '\nstopping after the current page; progress is saved (run again to resume)…')
        abort.abort()
      }
      // Once: a second Ctrl-C ends the process at once (exit 130), without waiting for the page.
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      const progress = progressReporter(dryRun)
      try {
        const s = await syncMonitoring({
          gateway,
          enzoic: api,
          store,
          tenantIds: opts.tenant === undefined ? config.tenantIds : [opts.tenant],
          dryRun,
          prune: opts.prune,
          restart: opts.restart,
          webhookID: opts.webhook,
          signal: abort.signal,
          onProgress: p => progress.update(p)
        })
        progress.stop()
        if (opts.json === true) outJson(s)
        else for (const l of summaryLines(s)) out(l)
      } catch (e) {
        progress.stop()
        if (e instanceof SyncInterruptedError) {
          process.exitCode = EXIT.interrupted
          if (opts.json === true) outJson({ interrupted: true, dryRun, ...e.progress })
          err(interruptedLine(e.progress, dryRun))
          return
        }
        // "Progress is saved" only when there is some: a checkpoint of this run (not after a refused key).
        const saved = !dryRun && await store.kv.get(CHECKPOINT_KEY).then(v => v !== undefined, () => false)
        const known = classify(e, saved ? ' — progress is saved; run again to resume' : '')
        if (known !== undefined) throw known
        if (e instanceof Error && /interrupted: finish it first/.test(e.message)) throw new CliError(e.message, EXIT.usage)
        throw e
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        await Promise.allSettled([gateway.close(), api.close(), store.close()])
      }
    }), {
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
    .action(async (opts: { json?: boolean }) => {
      await withEnzoic(async (api, config) => {
        const page = await api.listMonitoredUsers({ pageSize: 1 })
        let last: { finishedAt: string, enrolled: number, alreadyExisted: number } | undefined
        let pending = false
        if (isPostgresUrl(config.database) || existsSync(config.database)) {
          const store = await openCommandStore()
          try {
            const l = await store.kv.get(LAST_SYNC_KEY)
            if (l !== undefined) last = JSON.parse(l) as typeof last
            pending = await store.kv.get(CHECKPOINT_KEY) !== undefined
          } finally {
            await store.close()
          }
        }
        if (opts.json === true) {
          outJson({ monitored: page.count, lastSync: last ?? null, interruptedSyncWaiting: pending })
          return
        }
        out(`Enzoic monitors ${page.count} user(s) for this account.`)
        if (last !== undefined) out(`Last sync: ${shortTime(last.finishedAt)}, ${last.enrolled} enrolled, ${last.alreadyExisted} already monitored.`)
        if (pending) out('An interrupted sync is waiting: run `breach-bridge enzoic monitor sync` to resume it.')
      })
    }), { examples: ['breach-bridge enzoic monitor status', 'breach-bridge enzoic monitor status --json'], env: [...ENZOIC_ENV, ...STORE_ENV] })

  return monitor
}

export function enzoicCommand (): Command {
  const enzoic = new Command('enzoic')
    .description('drive Enzoic\'s APIs (needs ENZOIC_API_KEY and ENZOIC_API_SECRET)')
    .addCommand(webhooksCommand())
    .addCommand(monitorCommand())
  return withHelp(enzoic, { examples: ['breach-bridge enzoic webhooks list', 'breach-bridge enzoic monitor sync --dry-run'], env: ENZOIC_ENV })
}
