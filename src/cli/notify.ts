import { Command } from 'commander'
import { sendTestNotice } from '../operations/notify.js'
import { action } from './command.js'
import type { CliContext } from './context.js'
import { CliError, EXIT } from './exit.js'
import { withHelp } from './help.js'
import { inert, outputTo } from './output.js'

const NOTIFY_ENV = [
  'BRIDGE_NOTIFY_URL: the receiver of the operator digest (required here)',
  'BRIDGE_NOTIFY_SECRET (or BRIDGE_NOTIFY_SECRET_FILE): signs the message with the Standard Webhooks headers, as the digest does'
]

/** `notify test`: the exit code of the receiver's answer (docs/cli.md, "Exit codes"). */
function failure (status: number | undefined): CliError['exitCode'] {
  if (status === undefined || status === 429 || status >= 500) return EXIT.unavailable
  if (status === 401 || status === 403) return EXIT.usage
  return EXIT.failure
}

function addTest (notify: Command, ctx: CliContext): void {
  const { out, outJson } = outputTo(ctx)
  withHelp(notify.command('test')
    .description('send one signed test message to BRIDGE_NOTIFY_URL, as the digest sends, and report the receiver\'s answer')
    .option('--json', 'as JSON: {"url", "id", "signed", "ok", "status"?, "answer"?, "problem"?}')
    .action(action(async (opts: { json?: boolean }) => {
      const config = ctx.config()
      if (config.notify === undefined) throw new CliError('BRIDGE_NOTIFY_URL is not set: there is no receiver to test (README, "Configuration")')
      const r = await sendTestNotice(config.notify)
      if (opts.json === true) outJson({ url: r.url, id: r.id, signed: r.signed, ok: r.ok, status: r.status, answer: r.answer, problem: r.problem })
      const how = r.signed ? 'signed (BRIDGE_NOTIFY_SECRET)' : 'unsigned (BRIDGE_NOTIFY_SECRET is not set)'
      if (r.ok) {
        if (opts.json !== true) out(`Sent a test message to ${r.url}, ${how}, webhook-id ${r.id}: the receiver answered ${r.status}${r.answer === undefined ? '' : ` ${inert(r.answer)}`}.`)
        return
      }
      throw new CliError(`test message to ${r.url} (${how}) not delivered: ${inert(r.problem ?? 'failed')}`, failure(r.status))
    })), {
    examples: ['breach-bridge notify test', 'breach-bridge notify test --json'],
    env: NOTIFY_ENV
  })
}

export function notifyCommand (ctx: CliContext): Command {
  const notify = new Command('notify').description('the operator digest\'s receiver (BRIDGE_NOTIFY_URL)')
  withHelp(notify, { examples: ['breach-bridge notify test'], env: NOTIFY_ENV })
  addTest(notify, ctx)
  return notify
}
