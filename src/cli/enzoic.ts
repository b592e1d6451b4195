import { chmodSync, closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs'
import { Command, Option } from 'commander'
import cliProgress from 'cli-progress'
import { loadConfig, parseDuration, type Config } from '../config.js'
import { createEnzoicClient, EnzoicApiError, type EnzoicApi } from '../enzoic/client.js'
import { CHECKPOINT_KEY, LAST_SYNC_KEY, SyncInterruptedError, syncMonitoring, type SyncProgress } from '../enzoic/sync.js'
import { createFusionAuthGateway, type FusionAuthGateway } from '../remediation/fusionauth.js'
import { isPostgresUrl, openStore } from '../store/index.js'
import { KV, type Store } from '../store/types.js'
import { openCommandStore } from './alerts.js'
import { UsageError, err, out, shortTime, table } from './output.js'

export function enzoicClient (config: Config): EnzoicApi {
  return createEnzoicClient({
    baseUrl: config.enzoicApiUrl,
    apiKey: config.enzoicApiKey!,
    apiSecret: config.enzoicApiSecret!,
    onRetry: ({ call, attempt, status, waitMs }) => err(`Enzoic ${call} failed (${status ?? 'no answer'}), attempt ${attempt}; retrying in ${Math.round(waitMs / 100) / 10} s`)
  })
}

/** Runs fn with an Enzoic client; Enzoic errors become one clear line. */
async function withEnzoic<T> (fn: (api: EnzoicApi, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env, ['enzoic'])
  const api = enzoicClient(config)
  try {
    return await fn(api, config)
  } catch (e) {
    if (e instanceof EnzoicApiError) throw new UsageError(e.message, 1)
    throw e
  } finally {
    await api.close()
  }
}

/**
 * Appends ENZOIC_WEBHOOK_CREDENTIALS to an env file created with mode 0600. An existing value is kept
 * in front of the new pair, so the old webhook keeps working while Enzoic switches (rotation).
 */
export function writeCredentials (file: string, key: string, secret: string): { rotated: boolean } {
  let previous: string | undefined
  if (existsSync(file)) {
    const lines = readFileSync(file, 'utf8').split(/\r?\n/)
    for (const l of lines) {
      const m = /^\s*(?:export\s+)?ENZOIC_WEBHOOK_CREDENTIALS\s*=\s*["']?([^"'#]*)["']?\s*$/.exec(l)
      if (m !== null && m[1]!.trim() !== '') previous = m[1]!.trim()
    }
  }
  const value = previous === undefined ? `${key}:${secret}` : `${previous},${key}:${secret}`
  const fd = openSync(file, 'a', 0o600)
  try {
    const stamp = new Date().toISOString()
    writeSync(fd, `\n# Enzoic webhook ${previous === undefined ? 'credentials' : 'credentials rotated (old pair kept: remove it once Enzoic uses the new webhook)'}, ${stamp}\nENZOIC_WEBHOOK_CREDENTIALS=${value}\n`)
  } finally {
    closeSync(fd)
  }
  chmodSync(file, 0o600)
  return { rotated: previous !== undefined }
}

function webhooksCommand (): Command {
  const webhooks = new Command('webhooks').description('Enzoic webhook registration and the test call')

  webhooks.command('register')
    .description('register this bridge\'s public URL with Enzoic; prints the webhook key and secret once')
    .requiredOption('--url <url>', 'public https URL of POST /webhooks/enzoic, e.g. https://bridge.example.com/webhooks/enzoic')
    .option('--default', 'make it the account\'s default webhook (the first one always is)')
    .option('--write-env <file>', 'append ENZOIC_WEBHOOK_CREDENTIALS to this env file (created with mode 0600)')
    .option('--insecure-url', 'allow a non-https URL (testing only)')
    .action(async (opts: { url: string, default?: boolean, writeEnv?: string, insecureUrl?: boolean }) => {
      let url: URL
      try { url = new URL(opts.url) } catch { throw new UsageError(`--url: not a URL: ${opts.url}`) }
      if (url.protocol !== 'https:' && opts.insecureUrl !== true) {
        throw new UsageError('--url must be https: Enzoic sends the webhook secret as Basic auth (use --insecure-url only for tests)')
      }
      await withEnzoic(async api => {
        const w = await api.registerWebhook(url.href, opts.default === true)
        out(`Registered webhook ${w.webhookID} → ${w.url}${w.default === true ? ' (default)' : ''}`)
        if (opts.writeEnv !== undefined) {
          const { rotated } = writeCredentials(opts.writeEnv, w.key, w.secret)
          out(`Wrote ENZOIC_WEBHOOK_CREDENTIALS to ${opts.writeEnv} (mode 0600)${rotated ? ', keeping the previous pair for the switch-over' : ''}.`)
          out('Restart the bridge to load it.')
        } else {
          out('')
          out('Key and secret (shown once; Enzoic sends them as Basic auth). Add to the bridge\'s environment:')
          out(`  ENZOIC_WEBHOOK_CREDENTIALS=${w.key}:${w.secret}`)
          out('When rotating, keep the old pair too until the new webhook is in use: OLDKEY:OLDSECRET,NEWKEY:NEWSECRET')
        }
      })
    })

  webhooks.command('list')
    .description('the account\'s webhooks')
    .option('--json', 'as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withEnzoic(async api => {
        // Never print secrets, even if Enzoic returned them.
        const list = (await api.listWebhooks()).map(({ secret: _s, key: _k, ...rest }) => rest)
        if (opts.json === true) out(JSON.stringify(list, null, 2))
        else if (list.length === 0) out('No webhooks registered.')
        else out(table(['ID', 'DEFAULT', 'URL'], list.map(w => [w.webhookID, w.default === true ? 'yes' : '', w.url])))
      })
    })

  webhooks.command('delete')
    .description('delete a webhook by id')
    .argument('<id>', 'webhook id')
    .action(async (id: string) => {
      await withEnzoic(async api => {
        await api.deleteWebhook(id)
        out(`Deleted webhook ${id}.`)
      })
    })

  webhooks.command('test')
    .description('ask Enzoic to POST a test notification to the default webhook; --wait watches the bridge\'s database for it')
    .addOption(new Option('--type <type>', 'test notification type').choices(['breachAlert', 'binAlert', 'piiAlert']).default('breachAlert'))
    .option('--wait [duration]', 'wait for it to arrive, e.g. 60s or 2m', false)
    .action(async (opts: { type: 'breachAlert' | 'binAlert' | 'piiAlert', wait: string | boolean }) => {
      const waitMs = opts.wait === false ? undefined : opts.wait === true ? 60_000 : parseDuration(opts.wait)
      if (waitMs === undefined && opts.wait !== false) throw new UsageError('--wait takes a duration like 60s or 2m')
      const store = waitMs === undefined ? undefined : await openCommandStore()
      try {
        const since = Date.now()
        const before = store === undefined ? undefined : await watchMark(store)
        await withEnzoic(api => api.testWebhook(opts.type))
        out(`Enzoic accepted the ${opts.type} test request.`)
        if (store === undefined || before === undefined) {
          out('Check `breach-bridge alerts list` in a few seconds, or run again with --wait 60s.')
          return
        }
        out(`Waiting up to ${Math.round(waitMs! / 1000)} s for it to reach the bridge…`)
        const arrived = await waitForDelivery(store, before, since + waitMs!)
        if (arrived === undefined) {
          err(`No test notification arrived within ${Math.round(waitMs! / 1000)} s. Likely causes:`)
          err('  - the URL is not reachable from Enzoic: DNS, firewall (Enzoic sends from 52.42.159.171), nginx not running — `webhooks list` shows the URL Enzoic uses;')
          err('  - credentials: ENZOIC_WEBHOOK_CREDENTIALS does not hold this webhook\'s key:secret (the bridge answers 401: look for "webhook credentials refused" in its log);')
          err('  - certificate: nginx refused Enzoic\'s client certificate (400/403 in nginx\'s log): check the Enzoic root CA file and the CN map;')
          err('  - this command reads BRIDGE_DATABASE: make sure it is the running bridge\'s database.')
          throw new UsageError('test notification not received', 1)
        }
        out(arrived)
      } finally {
        await store?.close()
      }
    })

  return webhooks
}

interface Mark { newest?: string, ignored?: string }
async function watchMark (store: Store): Promise<Mark> {
  return { newest: (await store.alerts.list({ limit: 1 }))[0]?.id, ignored: await store.kv.get(KV.lastIgnored) }
}

async function waitForDelivery (store: Store, mark: Mark, deadline: number): Promise<string | undefined> {
  const started = Date.now()
  while (Date.now() < deadline) {
    const newest = (await store.alerts.list({ limit: 1 }))[0]
    const secs = ((Date.now() - started) / 1000).toFixed(1)
    if (newest !== undefined && newest.id !== mark.newest) {
      const kind = newest.test ? 'a test alert (stored; outcome test, FusionAuth not called)' : `a breach alert for ${newest.email ?? newest.usernameHash ?? '?'} (state ${newest.state}${newest.outcome === undefined ? '' : `, outcome ${newest.outcome}`})`
      return `Received after ${secs} s: alert ${newest.id}, classified as ${kind}. Details: breach-bridge alerts show ${newest.id}`
    }
    const ignored = await store.kv.get(KV.lastIgnored)
    if (ignored !== undefined && ignored !== mark.ignored) {
      const { reason } = JSON.parse(ignored) as { reason: string }
      return `Received after ${secs} s: classified as ${reason}, answered "ignored" (not stored).`
    }
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  return undefined
}

function progressReporter (): { update (p: SyncProgress): void, stop (): void } {
  if (process.stderr.isTTY === true && process.env.CI === undefined) {
    const bar = new cliProgress.SingleBar({
      format: 'syncing [{bar}] {value}/{total} users | tenant {tenant} | enrolled {enrolled} | {eta_formatted} left',
      stream: process.stderr,
      hideCursor: true
    }, cliProgress.Presets.shades_classic)
    let started = false
    return {
      update (p) {
        const payload = { tenant: `${p.tenantIndex + 1}/${p.tenants}`, enrolled: p.enrolled }
        if (!started) { bar.start(p.total ?? p.seen, p.seen, payload); started = true }
        if (p.total !== undefined) bar.setTotal(Math.max(p.total, p.seen))
        bar.update(p.seen, payload)
      },
      stop () { if (started) bar.stop() }
    }
  }
  // No terminal: a line every 5 seconds.
  let last = 0
  return {
    update (p) {
      if (Date.now() - last < 5000) return
      last = Date.now()
      err(`sync: ${p.seen}${p.total === undefined ? '' : `/${p.total}`} users read, ${p.enrolled} enrolled, tenant ${p.tenantIndex + 1}/${p.tenants}`)
    },
    stop () {}
  }
}

function monitorCommand (): Command {
  const monitor = new Command('monitor').description('Enzoic Breach Monitoring by User for FusionAuth users')

  monitor.command('sync')
    .description('enrol every active FusionAuth user with an email (resumable; batches of ≤15,000)')
    .option('--tenant <id>', 'only this tenant')
    .option('--dry-run', 'count what would be enrolled; change nothing')
    .option('--prune', 'also remove monitored entries whose FusionAuth user no longer exists')
    .option('--restart', 'ignore an interrupted run\'s checkpoint and start over')
    .option('--webhook <id>', 'deliver these users\' alerts to this webhook (default: the account\'s default)')
    .action(async (opts: { tenant?: string, dryRun?: boolean, prune?: boolean, restart?: boolean, webhook?: string }) => {
      const config = loadConfig(process.env, ['enzoic', 'fusionauth'])
      const gateway: FusionAuthGateway = createFusionAuthGateway({ url: config.fusionAuthUrl!, apiKey: config.fusionAuthApiKey!, timeoutMs: config.fusionAuthTimeoutMs, tenantIds: config.tenantIds })
      const api = enzoicClient(config)
      const store = await openStore(config.database, { role: 'command' })
      const abort = new AbortController()
      const onSignal = (): void => {
        err('\nstopping after the current page; the checkpoint is saved (run again to resume)…')
        abort.abort()
      }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      const progress = progressReporter()
      try {
        const s = await syncMonitoring({
          gateway,
          enzoic: api,
          store,
          tenantIds: opts.tenant === undefined ? config.tenantIds : [opts.tenant],
          dryRun: opts.dryRun,
          prune: opts.prune,
          restart: opts.restart,
          webhookID: opts.webhook,
          signal: abort.signal,
          onProgress: p => progress.update(p)
        })
        progress.stop()
        out(`${s.dryRun ? 'Dry run: would enrol' : 'Enrolled'} ${s.enrolled} users${s.dryRun ? '' : ` (${s.alreadyExisted} already monitored)`} from ${s.tenants} tenant(s) in ${s.batches} batch(es), ${s.seconds.toFixed(1)} s${s.resumed ? ', resumed from a checkpoint' : ''}.`)
        out(`Skipped ${s.skipped} users (inactive or without an email).`)
        if (s.pruned !== undefined) out(`Prune: ${s.pruned.stale} monitored entries belong to users that no longer exist${s.dryRun ? ' (not removed: dry run)' : `; removed ${s.pruned.deleted}`}.`)
      } catch (e) {
        progress.stop()
        if (e instanceof SyncInterruptedError) {
          process.exitCode = 130
          err(`Interrupted: ${e.progress.enrolled} users enrolled so far. Run the same command again to resume.`)
          return
        }
        if (e instanceof EnzoicApiError) throw new UsageError(`${e.message} — progress is saved; run again to resume`, 1)
        if (e instanceof Error && e.name === 'FusionAuthError') throw new UsageError(`${e.message} — progress is saved; run again to resume`, 1)
        throw e
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        await Promise.allSettled([gateway.close(), api.close(), store.close()])
      }
    })

  monitor.command('status')
    .description('how many users Enzoic monitors, and the last sync')
    .action(async () => {
      await withEnzoic(async (api, config) => {
        const page = await api.listMonitoredUsers({ pageSize: 1 })
        out(`Enzoic monitors ${page.count} user(s) for this account.`)
        if (isPostgresUrl(config.database) || existsSync(config.database)) {
          const store = await openCommandStore()
          try {
            const last = await store.kv.get(LAST_SYNC_KEY)
            const pending = await store.kv.get(CHECKPOINT_KEY)
            if (last !== undefined) {
              const l = JSON.parse(last) as { finishedAt: string, enrolled: number, alreadyExisted: number }
              out(`Last sync: ${shortTime(l.finishedAt)}, ${l.enrolled} enrolled, ${l.alreadyExisted} already monitored.`)
            }
            if (pending !== undefined) out('An interrupted sync is waiting: run `breach-bridge enzoic monitor sync` to resume it.')
          } finally {
            await store.close()
          }
        }
      })
    })

  return monitor
}

export function enzoicCommand (): Command {
  return new Command('enzoic')
    .description('drive Enzoic\'s APIs (needs ENZOIC_API_KEY and ENZOIC_API_SECRET)')
    .addCommand(webhooksCommand())
    .addCommand(monitorCommand())
}
