import { Command, InvalidArgumentError } from 'commander'
import { FUSIONAUTH_EVENTS, FUSIONAUTH_WEBHOOK_PATH } from '../alerts/fusionauth-events.js'
import type { Config } from '../config/index.js'
import { gatewayOptions } from '../config/parts.js'
import { createFusionAuthGateway, type FusionAuthGateway } from '../fusionauth/index.js'
import { EnvFileError, EnvWriteError } from '../operations/enzoic.js'
import { EnvValueError } from '../operations/env-file.js'
import {
  deleteFusionAuthWebhook, listFusionAuthWebhooks, registerFusionAuthWebhook, WebhookNotFoundError, WebhookSetupError,
  type FusionAuthRegistration, type TenantChange, type WebhookSummary
} from '../operations/fusionauth-webhooks.js'
import { action } from './command.js'
import type { CliContext } from './context.js'
import { CliError, EXIT } from './exit.js'
import { FUSIONAUTH_ENV, withHelp } from './help.js'
import { inert, outputTo, table } from './output.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function uuidOption (what: string): (value: string, previous?: string[]) => string[] {
  return (value, previous = []) => {
    if (!UUID.test(value.trim())) throw new InvalidArgumentError(`${what} is a UUID`)
    return [...previous, value.trim().toLowerCase()]
  }
}

/** Runs fn with a FusionAuth gateway (FUSIONAUTH_URL and FUSIONAUTH_API_KEY required), closed after. */
async function withFusionAuth<T> (ctx: CliContext, fn: (gateway: FusionAuthGateway, config: Config) => Promise<T>): Promise<T> {
  const config = ctx.config(['fusionauth'])
  const gateway = createFusionAuthGateway(gatewayOptions(config)!)
  try {
    return await fn(gateway, config)
  } finally {
    await gateway.close()
  }
}

/** The CLI's words for a --write-env file that cannot hold the secret, and for a write that failed after the change. */
function explainRegisterError (e: unknown): unknown {
  if (e instanceof EnvFileError || e instanceof EnvValueError) return new CliError(`--write-env ${e.message}`, EXIT.usage)
  if (e instanceof EnvWriteError) {
    return new CliError(`${e.message}: ${e.undone
      ? 'the FusionAuth webhook was put back as it was, nothing changed'
      : `the FusionAuth webhook ${e.webhookID} was changed and could not be put back: check it (breach-bridge fusionauth webhooks list) and run again`}`, EXIT.failure)
  }
  if (e instanceof WebhookSetupError) return new CliError(e.message, EXIT.usage)
  return e
}

function httpsUrl (given: string, insecure: boolean): string {
  let url: URL
  try { url = new URL(given) } catch { throw new CliError(`--url: not a URL: ${given}`) }
  if (url.protocol !== 'https:' && !insecure) {
    throw new CliError('--url must be https: FusionAuth sends the webhook secret in the Authorization header (use --insecure-url only for tests)')
  }
  return url.href
}

function tenantLine (t: TenantChange): string {
  const name = `Tenant ${inert(t.name ?? t.id)}${t.name === undefined ? '' : ` (${t.id})`}`
  if (t.change === 'unchanged') return `${name}: unchanged (sends every event; user.password.breach transaction ${t.transactions['user.password.breach'] ?? '-'})`
  const types = new Set(t.enabled.map(e => t.transactions[e]))
  return `${name}: updated, enabled ${types.size === 1
    ? `${t.enabled.join(', ')} (transaction ${[...types][0] ?? 'None'})`
    : t.enabled.map(e => `${e} (${t.transactions[e] ?? 'None'})`).join(', ')}`
}

function renderRegistration (ctx: CliContext, r: FusionAuthRegistration, breachLogin: 'allow' | 'block'): void {
  const { out } = outputTo(ctx)
  const w = r.webhook
  out(`Webhook ${w.id} → ${inert(w.url)}: ${w.change}${w.change === 'updated' ? ` (${w.changed.join(', ')})` : ''}`)
  out(`  events: ${w.eventsAdded.length === 0 ? `all ${FUSIONAUTH_EVENTS.length} already enabled` : `enabled ${w.eventsAdded.join(', ')}`}`)
  out(`  Authorization header: ${w.secret === 'kept' ? 'kept (--rotate makes a new one)' : w.secret}`)
  out(`  tenants: ${w.global ? 'every tenant (global)' : w.tenantIds.join(', ')}`)
  out(`  signature: ${w.signingKeyId === undefined ? 'off (--signing-key-id signs events, FusionAuth ≥ 1.48)' : `signed with key ${w.signingKeyId}`}`)
  for (const t of r.tenants) out(tenantLine(t))
  const kept = r.tenants.flatMap(t => t.kept.map(k => `${t.id}: ${k}`))
  if (kept.length > 0) out(`Kept the transaction type another webhook may rely on: ${kept.join('; ')}.`)
  out(breachLogin === 'block'
    ? 'user.password.breach: transaction Any ("Any single webhook must succeed"): with FUSIONAUTH_BREACH_LOGIN=block the bridge answers 500 and the login fails.'
    : 'user.password.breach: transaction None: the login goes on (to make it fail, set FUSIONAUTH_BREACH_LOGIN=block and run this again).')
  if (r.written !== undefined) {
    out(`Wrote FUSIONAUTH_WEBHOOK_SECRET to ${r.written.path} (mode 0600${r.written.replaced ? ', replacing the line that was there' : ''}). Restart the bridge to load it.`)
  } else if (r.secret !== undefined) {
    out('')
    out('The Authorization header value (shown once; FusionAuth sends it with every event). Add to the bridge\'s environment, then restart it:')
    out(`  FUSIONAUTH_WEBHOOK_SECRET="${r.secret}"`)
  }
  if (w.secret === 'rotated') out('Until the bridge runs with the new value it refuses FusionAuth\'s events (401): restart it now.')
}

interface RegisterOptions { url: string, tenant?: string[], writeEnv?: string, signingKeyId?: string, rotate?: boolean, insecureUrl?: boolean, json?: boolean }

async function register (ctx: CliContext, opts: RegisterOptions): Promise<void> {
  const { err, outJson } = outputTo(ctx)
  const url = httpsUrl(opts.url, opts.insecureUrl === true)
  if (!new URL(url).pathname.replace(/\/+$/, '').endsWith(FUSIONAUTH_WEBHOOK_PATH)) {
    err(`Note: the bridge receives FusionAuth's events at ${FUSIONAUTH_WEBHOOK_PATH}; this URL's path is another (fine only if a proxy maps it there).`)
  }
  const { registration, breachLogin } = await withFusionAuth(ctx, async (gateway, config) => {
    const tenantIds = opts.tenant ?? config.tenantIds
    if (opts.signingKeyId === undefined && config.faWebhookSignature === 'required') {
      err('Note: FUSIONAUTH_WEBHOOK_SIGNATURE=required: the bridge refuses unsigned events; pass --signing-key-id unless the webhook signs already.')
    }
    const { signingKeyId, writeEnv: envFile } = opts
    const request = { url, tenantIds, signingKeyId, rotate: opts.rotate === true, breachLogin: config.faBreachLogin, envFile, now: () => ctx.now() }
    const tenants = async (): Promise<string[]> => tenantIds !== undefined ? [...tenantIds] : (await gateway.listTenants()).map(t => t.id)
    try {
      return { registration: await registerFusionAuthWebhook(gateway, request, tenants), breachLogin: config.faBreachLogin }
    } catch (e) {
      throw explainRegisterError(e)
    }
  })
  if (opts.json === true) outJson(registration)
  else renderRegistration(ctx, registration, breachLogin)
}

function addRegister (webhooks: Command, ctx: CliContext): void {
  withHelp(webhooks.command('register')
    .description('create or update (one per URL: run it twice, nothing changes) FusionAuth\'s webhook to this bridge, with every event the bridge acts on and a generated Authorization secret; enable those events on the tenants; print what changed')
    .requiredOption('--url <url>', `public https URL of POST ${FUSIONAUTH_WEBHOOK_PATH}, e.g. https://bridge.example.com${FUSIONAUTH_WEBHOOK_PATH}`)
    .option('--tenant <id>', 'only this tenant (repeat for several; default FUSIONAUTH_TENANT_IDS, else every tenant: a global webhook)', uuidOption('--tenant'))
    .option('--write-env <file>', 'write FUSIONAUTH_WEBHOOK_SECRET to this env file (made 0600 first; replaces the line that is there; a symbolic link is refused)')
    .option('--signing-key-id <id>', 'sign every event with this FusionAuth key (FusionAuth ≥ 1.48; then set FUSIONAUTH_WEBHOOK_SIGNATURE=required)', (v: string) => {
      if (!UUID.test(v.trim())) throw new InvalidArgumentError('a key id is a UUID')
      return v.trim().toLowerCase()
    })
    .option('--rotate', 'a new Authorization secret even when the webhook has one (the bridge refuses events until it is restarted with it)')
    .option('--insecure-url', 'allow a non-https URL (testing only)')
    .option('--json', 'as JSON: {"webhook": {id, url, change, changed, eventsAdded, secret, global, tenantIds, signingKeyId}, ' +
      '"tenants": [{id, name, change, enabled, transactions, kept}], "written"?, "secret"? (only without --write-env, when new)}')
    .addHelpText('after', [
      '',
      'An event reaches the bridge only when the webhook enables it AND the tenant does (Tenants → Webhooks): this command',
      'sets both. Each tenant event gets the transaction setting "No webhooks are required to succeed" (None), except',
      'user.password.breach with FUSIONAUTH_BREACH_LOGIN=block: "Any single webhook must succeed" (Any), so the bridge\'s',
      '500 fails that login. An event the tenant already sends keeps a stricter setting another webhook may rely on.'
    ].join('\n'))
    .action(action(async (opts: RegisterOptions) => { await register(ctx, opts) })), {
    examples: [
      'breach-bridge fusionauth webhooks register --url https://bridge.example.com/webhooks/fusionauth --write-env /etc/enzoic-bridge/bridge.env',
      'breach-bridge fusionauth webhooks register --url https://bridge.example.com/webhooks/fusionauth --tenant 5d9c… --signing-key-id 0c6f…',
      'breach-bridge fusionauth webhooks register --url https://bridge.example.com/webhooks/fusionauth --rotate --write-env bridge.env'
    ],
    env: [
      ...FUSIONAUTH_ENV,
      'FUSIONAUTH_BREACH_LOGIN: block sets user.password.breach\'s transaction to Any on the tenants (else None)',
      'FUSIONAUTH_WEBHOOK_SIGNATURE: required, without --signing-key-id, is pointed out'
    ]
  })
}

function listRow (w: WebhookSummary): string[] {
  const ours = FUSIONAUTH_EVENTS.length - w.missing.length
  return [
    w.id,
    w.url,
    `${ours}/${FUSIONAUTH_EVENTS.length}${w.events.length > ours ? ` (+${w.events.length - ours})` : ''}`,
    w.global ? 'all' : w.tenantIds.length === 0 ? 'none' : w.tenantIds.join(','),
    w.signed ? 'yes' : 'no',
    w.targetsBridge === null ? '-' : `yes (${w.targetsBridge === 'secret' ? 'its secret' : 'its path'})`
  ]
}

function addListAndDelete (webhooks: Command, ctx: CliContext): void {
  const { out, outJson } = outputTo(ctx)
  withHelp(webhooks.command('list')
    .description('FusionAuth\'s webhooks: the bridge\'s events each enables, its tenants, whether it signs, whether it is this bridge\'s (its Authorization header is a FUSIONAUTH_WEBHOOK_SECRET value, or its URL ends with /webhooks/fusionauth); headers and credentials never printed')
    .option('--json', 'a JSON array: {id, url, events, missing, global, tenantIds, signed, signingKeyId, targetsBridge: "secret" | "path" | null}')
    .action(action(async (opts: { json?: boolean }) => {
      const list = await withFusionAuth(ctx, async (gateway, config) => await listFusionAuthWebhooks(gateway, config.faWebhookSecrets))
      if (opts.json === true) outJson(list)
      else if (list.length === 0) out('No webhooks in FusionAuth. Add the bridge\'s: breach-bridge fusionauth webhooks register --url https://…/webhooks/fusionauth')
      else {
        out(table(['ID', 'URL', 'EVENTS', 'TENANTS', 'SIGNED', 'THIS BRIDGE'], list.map(listRow)))
        const missing = list.filter(w => w.targetsBridge !== null && w.missing.length > 0)
        for (const w of missing) out(`${w.id} lacks ${w.missing.join(', ')}: run fusionauth webhooks register again.`)
      }
    })), { examples: ['breach-bridge fusionauth webhooks list', 'breach-bridge fusionauth webhooks list --json'], env: [...FUSIONAUTH_ENV, 'FUSIONAUTH_WEBHOOK_SECRET: tells this bridge\'s webhook'] })

  withHelp(webhooks.command('delete')
    .description('delete one of FusionAuth\'s webhooks by id (the tenants\' event settings stay)')
    .argument('<id>', 'webhook id (fusionauth webhooks list)')
    .option('--json', 'as JSON: {"deleted": id}')
    .action(action(async (id: string, opts: { json?: boolean }) => {
      await withFusionAuth(ctx, async gateway => {
        try {
          await deleteFusionAuthWebhook(gateway, id)
        } catch (e) {
          throw e instanceof WebhookNotFoundError ? new CliError(e.message, EXIT.failure) : e
        }
      })
      if (opts.json === true) outJson({ deleted: id })
      else out(`Deleted FusionAuth webhook ${inert(id)}.`)
    })), { examples: ['breach-bridge fusionauth webhooks delete 2c9e…'], env: FUSIONAUTH_ENV })
}

export function fusionAuthCommand (ctx: CliContext): Command {
  const webhooks = new Command('webhooks').description('FusionAuth\'s own webhook to this bridge (POST /webhooks/fusionauth): register, list, delete')
  withHelp(webhooks, { examples: ['breach-bridge fusionauth webhooks list'], env: FUSIONAUTH_ENV })
  addRegister(webhooks, ctx)
  addListAndDelete(webhooks, ctx)
  const fusionauth = new Command('fusionauth').description('set up FusionAuth\'s side (needs FUSIONAUTH_URL and FUSIONAUTH_API_KEY)').addCommand(webhooks)
  return withHelp(fusionauth, {
    examples: ['breach-bridge fusionauth webhooks register --url https://bridge.example.com/webhooks/fusionauth --write-env bridge.env'],
    env: FUSIONAUTH_ENV
  })
}
