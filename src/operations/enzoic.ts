/**
 * What operators do with Enzoic, as a library API (docs/design.md §3): register a webhook and store its
 * secret safely, ask for a test notification and wait for it, enrol FusionAuth users in Breach Monitoring.
 * The CLI (src/cli/enzoic.ts) parses arguments and renders these results; nothing here prints — retries
 * and progress are callbacks.
 */
import { gatewayOptions } from '../config/parts.js'
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, openSync, readFileSync, unlinkSync, type Stats } from 'node:fs'
import type { Config } from '../config/index.js'
import { createEnzoicClient, type EnzoicApi, type EnzoicClientOptions, type Webhook } from '../enzoic/client.js'
import { CHECKPOINT_KEY, LAST_SYNC_KEY, SyncInterruptedError, syncMonitoring, type SyncProgress, type SyncSummary } from '../enzoic/sync.js'
import { createFusionAuthGateway } from '../fusionauth/index.js'
import { openStore } from '../store/index.js'
import type { Store } from '../store/types.js'
import { markDeliveries, waitForArrival, type Arrival } from './delivery.js'
import { replaceContent, setEnvVariable, writeAll } from './env-file.js'
import { resolveTenantOf } from './tenants.js'
import { BridgeError } from '../errors.js'

export type RetryNotice = NonNullable<EnzoicClientOptions['onRetry']>

/** The Enzoic client of a command: the configured URL and credentials; `onRetry` hears each retry. */
export function createEnzoicApi (config: Config, onRetry?: RetryNotice): EnzoicApi {
  return createEnzoicClient({ baseUrl: config.enzoicApiUrl, apiKey: config.enzoicApiKey!, apiSecret: config.enzoicApiSecret!, onRetry })
}

/** An env file that cannot safely hold a secret. The message starts with the path. */
export class EnvFileError extends BridgeError {
  readonly code = 'BRIDGE_ENV_FILE'
  constructor (readonly path: string, readonly reason: 'symbolic-link' | 'not-a-file' | 'cannot-read' | 'cannot-open' | 'cannot-chmod', detail: string) {
    super(`${path}${detail}`)
  }
}

/** The env file a webhook's credentials are appended to, opened (and made 0600) before anything is registered. */
export interface EnvFile {
  readonly path: string
  /** It did not exist before. */
  readonly created: boolean
  /**
   * Appends ENZOIC_WEBHOOK_CREDENTIALS; an existing value is kept in front of the new pair (rotation). An empty
   * `ENZOIC_WEBHOOK_CREDENTIALS=` line (as .env.example has) is filled in where it stands instead.
   */
  append (key: string, secret: string): { rotated: boolean }
  /** Closes it; `discard` removes a file this run created and left empty. */
  close (discard?: boolean): void
  /** Sets `name="value"`, replacing an assignment that is there (atomically: operations/env-file.ts). */
  set (name: string, value: string, comment: string): { replaced: boolean }
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0
const errnoOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code

/** lstat: a symbolic link (even a dangling one) or anything but a regular file is refused. */
function statBeforeOpening (file: string): Stats | undefined {
  let before: Stats | undefined
  try {
    before = lstatSync(file)
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw new EnvFileError(file, 'cannot-read', `: ${errnoOf(e) ?? 'cannot read it'}`)
  }
  if (before?.isSymbolicLink() === true) throw symbolicLink(file)
  if (before !== undefined && !before.isFile()) throw new EnvFileError(file, 'not-a-file', ' is not a regular file')
  return before
}

const symbolicLink = (file: string): EnvFileError =>
  new EnvFileError(file, 'symbolic-link', ' is a symbolic link: refusing to write a secret through it; give the path of the file itself')

/** An assignment of ENZOIC_WEBHOOK_CREDENTIALS (its value in group 1, possibly empty). */
const CREDENTIALS_LINE = /^\s*(?:export\s+)?ENZOIC_WEBHOOK_CREDENTIALS\s*=\s*["']?([^"'#]*)["']?\s*$/

/**
 * Adds a webhook's `key:secret` to the env file open as `fd`: after the pair already there (rotation), into an
 * empty `ENZOIC_WEBHOOK_CREDENTIALS=` line (as .env.example has), else on a new line at the end.
 */
function appendCredentials (file: string, fd: number, pair: string, now: () => number): { rotated: boolean } {
  const text = readFileSync(fd, 'utf8')
  let previous: string | undefined
  let emptyLine: number | undefined
  for (const [i, l] of text.split('\n').entries()) {
    const m = CREDENTIALS_LINE.exec(l.replace(/\r$/, ''))
    if (m === null) continue
    if (m[1]!.trim() !== '') previous = m[1]!.trim()
    else emptyLine ??= i
  }
  const value = previous === undefined ? pair : `${previous},${pair}`
  const stamp = new Date(now()).toISOString()
  const comment = `# Enzoic webhook ${previous === undefined ? 'credentials' : 'credentials rotated (old pair kept: remove it once Enzoic uses the new webhook)'}, ${stamp}`
  if (previous === undefined && emptyLine !== undefined) {
    // `ENZOIC_WEBHOOK_CREDENTIALS=` left empty (as in .env.example): filled in where it stands, not a second line.
    const lines = text.split('\n')
    lines.splice(emptyLine, 1, comment, `ENZOIC_WEBHOOK_CREDENTIALS=${value}`)
    replaceContent(file, fd, lines.join('\n'), () => symbolicLink(file))
    return { rotated: false }
  }
  const size = fstatSync(fd).size
  try {
    writeAll(fd, `\n${comment}\nENZOIC_WEBHOOK_CREDENTIALS=${value}\n`)
    fsyncSync(fd)
  } catch (e) {
    try { ftruncateSync(fd, size) } catch {} // no half-written secret left behind
    throw e
  }
  return { rotated: previous !== undefined }
}

/**
 * Opens an env file for a secret, safely: a symbolic link is refused (lstat before, O_NOFOLLOW when
 * opening, so a link put in its place in between fails too), only a regular file is accepted, and the file
 * is made 0600 (fchmod on the open descriptor) before any secret is written to it.
 */
export function openEnvFile (file: string, now: () => number = Date.now): EnvFile {
  const created = statBeforeOpening(file) === undefined
  let fd: number
  try {
    fd = openSync(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | O_NOFOLLOW, 0o600)
  } catch (e) {
    if (errnoOf(e) === 'ELOOP') throw symbolicLink(file)
    throw new EnvFileError(file, 'cannot-open', `: cannot open it (${errnoOf(e) ?? 'error'})`)
  }
  try {
    if (!fstatSync(fd).isFile()) throw new EnvFileError(file, 'not-a-file', ' is not a regular file')
    fchmodSync(fd, 0o600)
  } catch (e) {
    closeSync(fd)
    if (e instanceof EnvFileError) throw e
    throw new EnvFileError(file, 'cannot-chmod', `: cannot make it mode 0600 (${errnoOf(e) ?? 'error'})`)
  }
  let open = true
  return {
    path: file,
    created,
    append: (key, secret) => appendCredentials(file, fd, `${key}:${secret}`, now),
    close (discard = false) {
      if (!open) return
      open = false
      const empty = fstatSync(fd).size === 0
      closeSync(fd)
      if (discard && created && empty) try { unlinkSync(file) } catch {}
    },
    set: (name, value, comment) => setEnvVariable(file, fd, name, value, `${comment}, ${new Date(now()).toISOString()}`)
  }
}

/** The webhook was registered, but its credentials could not be written: it was deleted again (`undone`), or not. */
export class EnvWriteError extends BridgeError {
  readonly code = 'BRIDGE_ENV_WRITE'
  constructor (readonly path: string, readonly errno: string, readonly webhookID: string, readonly undone: boolean) {
    super(`cannot write ${path} (${errno})`)
  }
}

export interface RegisterRequest {
  /** The public https URL of POST /webhooks/enzoic. */
  url: string
  makeDefault?: boolean
  /** Append the credentials here instead of returning them for display. */
  envFile?: string
  now?: () => number
}

export interface Registration {
  webhook: Webhook & { key: string, secret: string }
  /** With `envFile`: where the pair went, and whether an earlier pair was kept in front of it. */
  written?: { path: string, rotated: boolean }
}

/**
 * Registers a webhook. With an env file: the file is opened first (a file that cannot be written must not
 * leave a webhook nobody can authenticate), the pair appended, and when that fails the webhook is deleted
 * again (EnvWriteError). A file this run created stays only when something was registered.
 */
export async function registerWebhook (api: EnzoicApi, req: RegisterRequest): Promise<Registration> {
  const target = req.envFile === undefined ? undefined : openEnvFile(req.envFile, req.now)
  let registered = false
  try {
    const webhook = await api.registerWebhook(req.url, req.makeDefault === true)
    registered = true
    if (target === undefined) return { webhook }
    let rotated: boolean
    try {
      rotated = target.append(webhook.key, webhook.secret).rotated
    } catch (e) {
      let undone = false
      try { await api.deleteWebhook(webhook.webhookID); undone = true } catch {}
      throw new EnvWriteError(target.path, errnoOf(e) ?? (e as Error).message, webhook.webhookID, undone)
    }
    return { webhook, written: { path: target.path, rotated } }
  } finally {
    target?.close(!registered)
  }
}

/** The account's webhooks, without their key and secret even when Enzoic returns them. */
export async function listWebhooks (api: EnzoicApi): Promise<Array<Omit<Webhook, 'key' | 'secret'>>> {
  return (await api.listWebhooks()).map(({ secret: _s, key: _k, ...rest }) => rest)
}

export async function deleteWebhook (api: EnzoicApi, webhookID: string): Promise<void> {
  await api.deleteWebhook(webhookID)
}

export type TestNotificationType = 'breachAlert' | 'binAlert' | 'piiAlert'

export interface TestRequest {
  type: TestNotificationType
  /** With a store (the running bridge's) and `waitMs`: wait for the notification to arrive there. */
  store?: Store
  waitMs?: number
  /** Enzoic accepted the request (before the wait begins). */
  onRequested?: () => void
  signal?: AbortSignal
}

export type TestResult = { waited: false } | { waited: true, arrival: Arrival | undefined }

/**
 * Asks Enzoic for a test notification; with a store, watches it until something arrives (a new alert, a
 * re-delivery, an ignored notification: operations/delivery.ts) or `waitMs` passes (`arrival` undefined).
 */
export async function requestTestNotification (api: EnzoicApi, req: TestRequest): Promise<TestResult> {
  const mark = req.store === undefined ? undefined : await markDeliveries(req.store)
  const since = Date.now()
  await api.testWebhook(req.type)
  req.onRequested?.()
  if (req.store === undefined || mark === undefined || req.waitMs === undefined) return { waited: false }
  return { waited: true, arrival: await waitForArrival(req.store, mark, since + req.waitMs, { signal: req.signal }) }
}

export interface SyncRequest {
  /** Only this tenant (default: FUSIONAUTH_TENANT_IDS, else every tenant). */
  tenant?: string
  dryRun?: boolean
  prune?: boolean
  restart?: boolean
  /** Deliver the users' alerts to this webhook (default: the account's default). */
  webhook?: string
  signal?: AbortSignal
  onProgress?: (p: SyncProgress) => void
  onRetry?: RetryNotice
}

/** `monitor sync` failed after it started; `progressSaved` when a checkpoint of this run lets it resume. */
export class SyncFailedError extends BridgeError {
  readonly code = 'BRIDGE_SYNC_FAILED'
  constructor (cause: unknown, readonly progressSaved: boolean) {
    super((cause as Error).message, { cause })
  }
}

/**
 * `monitor sync` with everything it needs: the FusionAuth gateway, the Enzoic client and the store (its
 * checkpoint), each closed again. Throws SyncInterruptedError when `signal` aborts it, SyncFailedError
 * when it fails underway, and the store's own error when the store does not open.
 */
export async function runMonitorSync (config: Config, req: SyncRequest): Promise<SyncSummary> {
  const gateway = createFusionAuthGateway(gatewayOptions(config)!)
  const api = createEnzoicApi(config, req.onRetry)
  let store: Store
  let tenant: string | undefined
  try {
    // --tenant as an id prefix or a name: resolved against FusionAuth's tenants (a full id is taken as it is).
    tenant = req.tenant === undefined || /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(req.tenant.trim())
      ? req.tenant?.trim().toLowerCase()
      : await resolveTenantOf(await gateway.listTenants(), req.tenant)
    store = await openStore(config.database, { role: 'command' })
  } catch (e) {
    await Promise.allSettled([gateway.close(), api.close()])
    throw e
  }
  const dryRun = req.dryRun === true
  try {
    return await syncMonitoring({
      gateway,
      enzoic: api,
      store,
      tenantIds: tenant === undefined ? config.tenantIds : [tenant],
      dryRun,
      prune: req.prune,
      restart: req.restart,
      webhookID: req.webhook,
      signal: req.signal,
      onProgress: req.onProgress
    })
  } catch (e) {
    if (e instanceof SyncInterruptedError) throw e
    // "Progress is saved" only when there is some: a checkpoint of this run (not after a refused key).
    const saved = !dryRun && await store.kv.get(CHECKPOINT_KEY).then(v => v !== undefined, () => false)
    throw new SyncFailedError(e, saved)
  } finally {
    await Promise.allSettled([gateway.close(), api.close(), store.close()])
  }
}

export interface LastSync { finishedAt: string, enrolled: number, alreadyExisted: number }
export interface MonitorStatus {
  /** Users Enzoic monitors for this account. */
  monitored: number
  /** The last finished sync, as this store recorded it. */
  lastSync: LastSync | null
  /** An interrupted sync left a checkpoint: running sync again resumes it. */
  interruptedSyncWaiting: boolean
}

/**
 * How many users Enzoic monitors; then, when `openStore` gives the bridge's store (undefined: there is
 * none yet), the last sync and a pending resume. The store is closed again.
 */
export async function monitorStatus (api: EnzoicApi, openStore: () => Promise<Store | undefined>): Promise<MonitorStatus> {
  const page = await api.listMonitoredUsers({ pageSize: 1 })
  const store = await openStore()
  if (store === undefined) return { monitored: page.count, lastSync: null, interruptedSyncWaiting: false }
  try {
    const last = await store.kv.get(LAST_SYNC_KEY)
    return {
      monitored: page.count,
      lastSync: last === undefined ? null : JSON.parse(last) as LastSync,
      interruptedSyncWaiting: await store.kv.get(CHECKPOINT_KEY) !== undefined
    }
  } finally {
    await store.close()
  }
}
