import { gatewayOptions } from '../config/parts.js'
import { userInfo } from 'node:os'
import type { Command } from 'commander'
import type { Step } from '../alerts/types.js'
import { resolveAlertId } from '../operations/alerts.js'
import { cancelAlert, resendNotice, restoreAlert } from '../operations/lifecycle.js'
import { createFusionAuthGateway } from '../fusionauth/index.js'
import { action } from './command.js'
import type { CliContext } from './context.js'
import { FUSIONAUTH_ENV, STORE_ENV, withHelp } from './help.js'
import { outputTo, shortTime, table } from './output.js'
import { withCommandStore } from './store.js'

/** Who is acting: --operator, else the OS user. */
function operatorOf (given: string | undefined): string {
  if (given !== undefined && given.trim() !== '') return given.trim()
  try { return userInfo().username } catch { return 'unknown' }
}

const stepLine = (s: Step, detail: string): unknown[] => [s.userId, s.action, detail]

function addCancel (alerts: Command, ctx: CliContext): void {
  const { out, outJson } = outputTo(ctx)
  withHelp(alerts.command('cancel')
    .description('cancel an alert\'s pending steps (a false positive caught during the grace period); an alert not processed yet will not be')
    .argument('<id>', 'alert id, or an unambiguous prefix')
    .requiredOption('--reason <text>', 'why (recorded with the alert)')
    .option('--operator <name>', 'who (default: the OS user)')
    .option('--json', 'as JSON: {"alertId", "cancelled": [steps], "nothingToDo"}')
    .action(action(async (id: string, opts: { reason: string, operator?: string, json?: boolean }) => {
      const config = ctx.config()
      const { alertId, r } = await withCommandStore(config.database, async store => {
        const alertId = await resolveAlertId(store, id)
        return { alertId, r: await cancelAlert({ store, config }, alertId, { operator: operatorOf(opts.operator), reason: opts.reason }) }
      })
      if (opts.json === true) {
        outJson({ alertId, cancelled: r.cancelled, stoppedBeforeProcessing: r.stoppedBeforeProcessing, nothingToDo: r.nothingToDo })
        return
      }
      if (r.nothingToDo) { out(`Nothing pending for alert ${alertId}: nothing changed.`); return }
      out(r.stoppedBeforeProcessing
        ? `Cancelled alert ${alertId}: it will not be processed.`
        : `Cancelled ${r.cancelled.length} pending step(s) of alert ${alertId}:\n${table(['USER', 'ACTION', 'DUE'], r.cancelled.map(s => [s.userId, s.action, shortTime(s.dueAt)])).replace(/^/gm, '  ')}`)
    })), {
    examples: ['breach-bridge alerts cancel 0190ab --reason "false positive: shared test mailbox"'],
    env: STORE_ENV
  })
}

function addRestore (alerts: Command, ctx: CliContext): void {
  const { out, outJson } = outputTo(ctx)
  withHelp(alerts.command('restore')
    .description('undo exactly what the bridge did for an alert, newest first (reactivate only a user it deactivated, cancel the user action it applied, …); prints what cannot be undone and why')
    .argument('<id>', 'alert id, or an unambiguous prefix')
    .requiredOption('--reason <text>', 'why (recorded with the alert)')
    .option('--user <userId>', 'only what was done to this user')
    .option('--operator <name>', 'who (default: the OS user)')
    .option('--json', 'as JSON: {"alertId", "undone": [{step, detail}], "kept": [{step, detail}], "cancelled": [steps], "nothingToDo"}')
    .action(action(async (id: string, opts: { reason: string, user?: string, operator?: string, json?: boolean }) => {
      const config = ctx.config(['fusionauth'])
      const gateway = createFusionAuthGateway(gatewayOptions(config)!)
      let restored
      try {
        restored = await withCommandStore(config.database, async store => {
          const alertId = await resolveAlertId(store, id)
          const request = { operator: operatorOf(opts.operator), reason: opts.reason, userId: opts.user }
          return { alertId, r: await restoreAlert({ store, config, gateway }, alertId, request) }
        })
      } finally {
        await gateway.close()
      }
      const { alertId, r } = restored
      if (opts.json === true) { outJson({ alertId, undone: r.undone, kept: r.kept, cancelled: r.cancelled, nothingToDo: r.nothingToDo }); return }
      const rows = [
        ...r.undone.map(u => ['undone', ...stepLine(u.step, u.detail)]),
        ...r.cancelled.map(s => ['cancelled', ...stepLine(s, 'was pending: will not run')]),
        ...r.kept.map(k => ['kept', ...stepLine(k.step, k.detail)])
      ]
      out(r.nothingToDo ? `Nothing left to undo for alert ${alertId}.` : `Restored alert ${alertId} (outcome ${r.alert.outcome ?? '-'}):`)
      if (rows.length > 0) out(table(['RESULT', 'USER', 'ACTION', 'DETAIL'], rows).replace(/^/gm, '  '))
    })), {
    examples: [
      'breach-bridge alerts restore 0190ab --reason "confirmed not breached (ticket SEC-1234)"',
      'breach-bridge alerts restore 0190ab --user 2f1c… --reason "only this tenant\'s user"'
    ],
    env: [...STORE_ENV, ...FUSIONAUTH_ENV]
  })
}

function addResendNotice (alerts: Command, ctx: CliContext): void {
  const { out, outJson } = outputTo(ctx)
  withHelp(alerts.command('resend-notice')
    .description('send again the user emails of an alert that ended uncertain (FusionAuth may have sent them before its answer was lost): the bridge never repeats an email by itself')
    .argument('<id>', 'alert id, or an unambiguous prefix')
    .requiredOption('--reason <text>', 'why (recorded with the alert)')
    .option('--user <userId>', 'only this user\'s email')
    .option('--operator <name>', 'who (default: the OS user)')
    .option('--json', 'as JSON: {"alertId", "resent": [{step, state, detail}], "nothingToDo"}')
    .action(action(async (id: string, opts: { reason: string, user?: string, operator?: string, json?: boolean }) => {
      const config = ctx.config(['fusionauth'])
      const gateway = createFusionAuthGateway(gatewayOptions(config)!)
      let done
      try {
        done = await withCommandStore(config.database, async store => {
          const alertId = await resolveAlertId(store, id)
          const request = { operator: operatorOf(opts.operator), reason: opts.reason, userId: opts.user }
          return { alertId, r: await resendNotice({ store, config, gateway }, alertId, request) }
        })
      } finally {
        await gateway.close()
      }
      const { alertId, r } = done
      if (opts.json === true) { outJson({ alertId, resent: r.resent, nothingToDo: r.nothingToDo }); return }
      if (r.nothingToDo) { out(`Nothing uncertain for alert ${alertId}: nothing sent.`); return }
      out(`Alert ${alertId} (outcome ${r.alert.outcome ?? '-'}):`)
      out(table(['RESULT', 'USER', 'ACTION', 'DETAIL'], r.resent.map(x => [x.state, ...stepLine(x.step, x.detail ?? '')])).replace(/^/gm, '  '))
    })), {
    examples: ['breach-bridge alerts resend-notice 0190ab --reason "the email time-out was FusionAuth\'s SMTP; checked: not delivered"'],
    env: [...STORE_ENV, ...FUSIONAUTH_ENV]
  })
}

/** `alerts cancel`, `alerts restore` and `alerts resend-notice`, added to the `alerts` command. */
export function addLifecycleCommands (alerts: Command, ctx: CliContext): void {
  addCancel(alerts, ctx)
  addRestore(alerts, ctx)
  addResendNotice(alerts, ctx)
}
