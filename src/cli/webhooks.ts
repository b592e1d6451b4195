import { Command, Option } from 'commander'
import type { AlertRecord } from '../alerts/types.js'
import { parseDuration } from '../duration.js'
import type { Arrival } from '../operations/delivery.js'
import {
  deleteWebhook, EnvFileError, EnvWriteError, listWebhooks, registerWebhook, requestTestNotification, type Registration, type TestNotificationType
} from '../operations/enzoic.js'
import { action } from './command.js'
import type { CliContext } from './context.js'
import { withEnzoic } from './enzoic-client.js'
import { CliError, EXIT } from './exit.js'
import { ENZOIC_ENV, STORE_ENV, withHelp } from './help.js'
import { inert, outputTo, shortTime, table } from './output.js'
import { openCommandStore } from './store.js'

/** The CLI's words for a --write-env file that cannot hold the secret, and for a write that failed after registering. */
function explainRegisterError (e: unknown): unknown {
  if (e instanceof EnvFileError) return new CliError(`--write-env ${e.message}`, EXIT.usage)
  if (e instanceof EnvWriteError) {
    return new CliError(`${e.message}: ${e.undone
      ? 'the webhook was deleted again, nothing changed'
      : `delete webhook ${e.webhookID} (breach-bridge enzoic webhooks delete ${e.webhookID}) and try again`}`, EXIT.failure)
  }
  return e
}

function httpsUrl (given: string, insecure: boolean): string {
  let url: URL
  try { url = new URL(given) } catch { throw new CliError(`--url: not a URL: ${given}`) }
  if (url.protocol !== 'https:' && !insecure) {
    throw new CliError('--url must be https: Enzoic sends the webhook secret as Basic auth (use --insecure-url only for tests)')
  }
  return url.href
}

function renderRegistration (ctx: CliContext, { webhook: w, written }: Registration, json: boolean): void {
  const { out, outJson } = outputTo(ctx)
  const head = `Registered webhook ${inert(w.webhookID)} → ${inert(w.url)}${w.default === true ? ' (default)' : ''}`
  if (written !== undefined) {
    if (json) {
      outJson({ webhookID: w.webhookID, url: w.url, default: w.default === true, writtenTo: written.path, rotated: written.rotated })
      return
    }
    out(head)
    out(`Wrote ENZOIC_WEBHOOK_CREDENTIALS to ${written.path} (mode 0600)${written.rotated ? ', keeping the previous pair for the switch-over' : ''}.`)
    out('Restart the bridge to load it.')
  } else if (json) {
    outJson({ webhookID: w.webhookID, url: w.url, default: w.default === true, credentials: `${w.key}:${w.secret}` })
  } else {
    out(head)
    out('')
    out('Key and secret (shown once; Enzoic sends them as Basic auth). Add to the bridge\'s environment:')
    out(`  ENZOIC_WEBHOOK_CREDENTIALS=${w.key}:${w.secret}`)
    out('When rotating, keep the old pair too until the new webhook is in use: OLDKEY:OLDSECRET,NEWKEY:NEWSECRET')
  }
}

function addRegister (webhooks: Command, ctx: CliContext): void {
  withHelp(webhooks.command('register')
    .description('register this bridge\'s public URL with Enzoic; prints the webhook key and secret once (or writes them to --write-env)')
    .requiredOption('--url <url>', 'public https URL of POST /webhooks/enzoic, e.g. https://bridge.example.com/webhooks/enzoic')
    .option('--default', 'make it the account\'s default webhook (the first one always is)')
    .option('--write-env <file>', 'append ENZOIC_WEBHOOK_CREDENTIALS to this env file (made mode 0600 first; a symbolic link is refused)')
    .option('--insecure-url', 'allow a non-https URL (testing only)')
    .option('--json', 'as JSON: {"webhookID", "url", "default", "writtenTo"?, "rotated"?, "credentials"? (only without --write-env)}')
    .action(action(async (opts: { url: string, default?: boolean, writeEnv?: string, insecureUrl?: boolean, json?: boolean }) => {
      const url = httpsUrl(opts.url, opts.insecureUrl === true)
      const registration = await withEnzoic(ctx, async api => {
        try {
          return await registerWebhook(api, { url, makeDefault: opts.default === true, envFile: opts.writeEnv, now: () => ctx.now() })
        } catch (e) {
          throw explainRegisterError(e)
        }
      })
      renderRegistration(ctx, registration, opts.json === true)
    })), {
    examples: [
      'breach-bridge enzoic webhooks register --url https://bridge.example.com/webhooks/enzoic --write-env /etc/enzoic-bridge/bridge.env',
      'breach-bridge enzoic webhooks register --url https://bridge.example.com/webhooks/enzoic --default   # prints the pair once'
    ],
    env: ENZOIC_ENV
  })
}

function addListAndDelete (webhooks: Command, ctx: CliContext): void {
  const { out, outJson } = outputTo(ctx)
  withHelp(webhooks.command('list')
    .description('the account\'s webhooks (secrets never printed)')
    .option('--json', 'a JSON array of webhooks')
    .action(action(async (opts: { json?: boolean }) => {
      const list = await withEnzoic(ctx, listWebhooks)
      if (opts.json === true) outJson(list)
      else if (list.length === 0) out('No webhooks registered.')
      else out(table(['ID', 'DEFAULT', 'URL'], list.map(w => [w.webhookID, w.default === true ? 'yes' : '', w.url])))
    })), { examples: ['breach-bridge enzoic webhooks list', 'breach-bridge enzoic webhooks list --json'], env: ENZOIC_ENV })

  withHelp(webhooks.command('delete')
    .description('delete a webhook by id')
    .argument('<id>', 'webhook id')
    .option('--json', 'as JSON: {"deleted": id}')
    .action(action(async (id: string, opts: { json?: boolean }) => {
      await withEnzoic(ctx, async api => { await deleteWebhook(api, id) })
      if (opts.json === true) outJson({ deleted: id })
      else out(`Deleted webhook ${id}.`)
    })), { examples: ['breach-bridge enzoic webhooks delete 5f2a9c…'], env: ENZOIC_ENV })
}

function kindOf (a: AlertRecord): string {
  return a.test
    ? 'a test alert (stored; outcome test, FusionAuth not called)'
    : `a breach alert (state ${a.state}${a.outcome === undefined ? '' : `, outcome ${a.outcome}`})`
}

/** The bridge answered the call 401: what the operator fixes (the stored pair is not the webhook's). */
const refusedText = (a: Extract<Arrival, { kind: 'refused' }>): string => [
  `The bridge refused a webhook call's credentials (401) after ${(a.afterMs / 1000).toFixed(1)} s${a.address === undefined ? '' : `, from ${inert(a.address)}`}` +
    ' (its log: "webhook credentials refused"): ENZOIC_WEBHOOK_CREDENTIALS of the running bridge does not hold the key:secret of the webhook Enzoic calls.',
  'Fix: put the pair `enzoic webhooks register` printed (or wrote with --write-env) in ENZOIC_WEBHOOK_CREDENTIALS and restart the bridge;',
  'or register again with --write-env into the bridge\'s environment file. `enzoic webhooks list` shows which webhook is the default.'
].join('\n')

function describeArrival (a: Arrival): string {
  const secs = (a.afterMs / 1000).toFixed(1)
  if (a.kind === 'refused') return refusedText(a)
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
  if (a.kind === 'refused') return { kind: a.kind, afterMs: a.afterMs, address: a.address }
  const { alert } = a
  return { kind: a.kind, afterMs: a.afterMs, alertId: alert.id, test: alert.test, state: alert.state, outcome: alert.outcome, deliveries: alert.deliveries }
}

const NOT_RECEIVED = [
  '  - the URL is not reachable from Enzoic: DNS, firewall (Enzoic sends from 52.42.159.171), nginx not running — `webhooks list` shows the URL Enzoic uses;',
  '  - credentials: ENZOIC_WEBHOOK_CREDENTIALS does not hold this webhook\'s key:secret (the bridge answers 401: look for "webhook credentials refused" in its log);',
  '  - certificate: nginx refused Enzoic\'s client certificate (400/403 in nginx\'s log): check the Enzoic root CA file and the CN map;',
  '  - this command reads BRIDGE_DATABASE: make sure it is the running bridge\'s database.'
]

function waitOf (wait: string | boolean): number | undefined {
  if (wait === false) return undefined
  const ms = wait === true ? 60_000 : parseDuration(wait)
  if (ms === undefined) throw new CliError('--wait takes a duration like 60s or 2m')
  return ms
}

function addTest (webhooks: Command, ctx: CliContext): void {
  const { out, err, outJson } = outputTo(ctx)
  withHelp(webhooks.command('test')
    .description('ask Enzoic to POST a test notification to the default webhook; --wait watches the bridge\'s database for it (a new alert, a re-delivery of a stored one, an ignored notification, or the bridge refusing its credentials)')
    .addOption(new Option('--type <type>', 'test notification type').choices(['breachAlert', 'binAlert', 'piiAlert']).default('breachAlert'))
    .option('--wait [duration]', 'wait for it to arrive, e.g. 60s or 2m (default 60s)', false)
    .option('--json', 'as JSON: {"type", "requested", "waited", "received", "arrival"?}')
    .action(action(async (opts: { type: TestNotificationType, wait: string | boolean, json?: boolean }) => {
      const waitMs = waitOf(opts.wait)
      const say = opts.json === true ? err : out
      const config = ctx.config(['enzoic'])
      const store = waitMs === undefined ? undefined : await openCommandStore(config.database)
      let result
      try {
        result = await withEnzoic(ctx, async api => await requestTestNotification(api, {
          type: opts.type,
          store,
          waitMs,
          onRequested () {
            say(`Enzoic accepted the ${opts.type} test request.`)
            if (waitMs !== undefined) say(`Waiting up to ${Math.round(waitMs / 1000)} s for it to reach the bridge…`)
          }
        }))
      } finally {
        await store?.close()
      }
      if (!result.waited) {
        if (opts.json === true) outJson({ type: opts.type, requested: true, waited: false })
        else out('Check `breach-bridge alerts list` in a few seconds, or run again with --wait 60s.')
        return
      }
      const { arrival } = result
      if (opts.json === true) {
        const found = arrival === undefined ? {} : { arrival: arrivalJson(arrival) }
        outJson({ type: opts.type, requested: true, waited: true, received: arrival !== undefined && arrival.kind !== 'refused', ...found })
      }
      if (arrival === undefined) {
        err([`No test notification arrived within ${Math.round(waitMs! / 1000)} s. Likely causes:`, ...NOT_RECEIVED].join('\n'))
        throw new CliError('test notification not received', EXIT.failure)
      }
      if (arrival.kind === 'refused') {
        err(refusedText(arrival))
        throw new CliError('test notification refused by the bridge (webhook credentials)', EXIT.failure)
      }
      if (opts.json !== true) out(describeArrival(arrival))
    })), {
    examples: ['breach-bridge enzoic webhooks test --wait 60s', 'breach-bridge enzoic webhooks test --type piiAlert --wait 2m --json'],
    env: [...ENZOIC_ENV, ...STORE_ENV.map(v => `${v} (with --wait)`)]
  })
}

export function webhooksCommand (ctx: CliContext): Command {
  const webhooks = new Command('webhooks').description('Enzoic webhook registration and the test call')
  withHelp(webhooks, { examples: ['breach-bridge enzoic webhooks list', 'breach-bridge enzoic webhooks test --wait 60s'], env: ENZOIC_ENV })
  addRegister(webhooks, ctx)
  addListAndDelete(webhooks, ctx)
  addTest(webhooks, ctx)
  return webhooks
}
