import { existsSync, readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { Command } from 'commander'
import { ConfigError, loadConfig, type Config } from '../config.js'
import { describeDatabase, isPostgresUrl, openStore } from '../store/index.js'
import { createFusionAuthGateway, type PermissionProbe } from '../remediation/fusionauth.js'
import { out } from './output.js'

type Level = 'OK' | 'FAIL' | 'WARN' | 'SKIP'
export interface CheckLine { level: Level, what: string, detail: string }

/** Every check `breach-bridge check` runs, in order; each is one line. Exported for tests. */
export async function runChecks (env: NodeJS.ProcessEnv): Promise<CheckLine[]> {
  const lines: CheckLine[] = []
  const add = (level: Level, what: string, detail: string): void => { lines.push({ level, what, detail }) }

  let config: Config
  try {
    config = loadConfig(env, ['webhook', 'fusionauth'])
    add('OK', 'configuration', `${config.webhookCredentials.length} webhook credential pair(s); actions ${config.actions.map(a => a.label).join(',')}${config.dryRun ? ' (dry run)' : ''}`)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    for (const p of err.problems) add('FAIL', 'configuration', p)
    return lines
  }

  const where = describeDatabase(config.database)
  try {
    const created = !isPostgresUrl(config.database) && !existsSync(config.database)
    // As `serve` opens it: a new SQLite file or an empty PostgreSQL database gets the schema.
    const store = await openStore(config.database, { role: 'serve' })
    try {
      await store.ping()
      const counts = await store.alerts.countByState()
      add('OK', 'database', `${store.kind} ${where}${created ? ' (created)' : ''}: commits; ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`)
    } finally {
      await store.close()
    }
  } catch (err) {
    add('FAIL', 'database', `${where}: ${(err as Error).message}`)
  }

  add('OK', 'payload encryption', config.payloadEncryption === 'off' ? 'off' : `${config.payloadEncryption}, AES-${config.payloadKey!.length * 8}-${config.payloadCipher}`)

  if (config.clientCert === 'off') {
    add('WARN', 'client certificate', 'off: Basic auth only (set ENZOIC_CLIENT_CERT=proxy behind nginx)')
  } else if (config.clientCert === 'proxy') {
    add('OK', 'client certificate', `proxy: nginx verdict headers trusted from ${config.trustedProxies.join(', ')}; CN must be ${config.clientCertCN}`)
  } else {
    try {
      createSecureContext({ cert: readFileSync(config.tlsCertFile!), key: readFileSync(config.tlsKeyFile!), ca: readFileSync(config.clientCaFile!) })
      add('OK', 'client certificate', `direct: TLS certificate, key and client CA load; CN must be ${config.clientCertCN}`)
    } catch (err) {
      add('FAIL', 'client certificate', `direct: cannot load TLS_CERT_FILE/TLS_KEY_FILE/ENZOIC_CLIENT_CA_FILE: ${(err as Error).message}`)
    }
  }

  const gateway = createFusionAuthGateway({ url: config.fusionAuthUrl!, apiKey: config.fusionAuthApiKey!, timeoutMs: config.fusionAuthTimeoutMs, tenantIds: config.tenantIds })
  try {
    try {
      await gateway.probe()
      add('OK', 'FusionAuth', `${config.fusionAuthUrl} answers and accepts the API key`)
    } catch (err) {
      add('FAIL', 'FusionAuth', `${config.fusionAuthUrl}: ${(err as Error).message}`)
      return lines
    }
    const needed: Array<[PermissionProbe, string, boolean]> = [['lookup', 'GET /api/user', true]]
    for (const a of config.actions) {
      const map: Record<string, [PermissionProbe, string]> = {
        deactivate: ['deactivate', 'DELETE /api/user/{id}'],
        'revoke-sessions': ['revoke-sessions', 'DELETE /api/jwt/refresh'],
        'require-password-change': ['require-password-change', 'PATCH /api/user/{id}'],
        comment: ['comment', 'POST /api/user/comment'],
        'user-action': ['user-action', 'POST /api/user/action'],
        group: ['group', 'POST /api/group/member']
      }
      const [probe, endpoint] = map[a.name]!
      if (!needed.some(n => n[0] === probe)) needed.push([probe, endpoint, true])
    }
    if (config.actorUserId !== undefined) {
      const actor = await gateway.getUser(config.actorUserId).catch(() => undefined)
      if (actor !== undefined) add('OK', 'actor user', `FUSIONAUTH_ACTOR_USER_ID ${actor.email ?? actor.id} exists`)
      else add('FAIL', 'actor user', `FUSIONAUTH_ACTOR_USER_ID ${config.actorUserId}: no such user (FusionAuth requires the commenter/actioner to exist)`)
    }
    // Only needed when several tenants exist and FUSIONAUTH_TENANT_IDS is unset.
    if (config.tenantIds === undefined) needed.push(['tenants', 'GET /api/tenant', false])
    for (const [probe, endpoint, required] of needed) {
      const r = await gateway.mayCall(probe)
      if (r.allowed) add('OK', `permission ${probe}`, `${endpoint} allowed`)
      else add(required ? 'FAIL' : 'WARN', `permission ${probe}`, `${endpoint}: ${r.detail ?? 'refused'}${required ? '' : ' (needed only with several tenants and no FUSIONAUTH_TENANT_IDS)'}`)
    }
  } finally {
    await gateway.close()
  }
  return lines
}

export function checkCommand (): Command {
  return new Command('check')
    .description('check configuration, database, certificates, FusionAuth and the API key\'s permissions; exit 1 on any FAIL')
    .action(async () => {
      const lines = await runChecks(process.env)
      const width = Math.max(...lines.map(l => l.what.length))
      for (const l of lines) out(`${l.level.padEnd(4)}  ${l.what.padEnd(width)}  ${l.detail}`)
      if (lines.some(l => l.level === 'FAIL')) process.exitCode = 1
    })
}
