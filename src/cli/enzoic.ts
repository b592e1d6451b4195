import { Command } from 'commander'
import type { CliContext } from './context.js'
import { ENZOIC_ENV, withHelp } from './help.js'
import { monitorCommand } from './monitor.js'
import { webhooksCommand } from './webhooks.js'

export function enzoicCommand (ctx: CliContext): Command {
  const enzoic = new Command('enzoic')
    .description('drive Enzoic\'s APIs (needs ENZOIC_API_KEY and ENZOIC_API_SECRET)')
    .addCommand(webhooksCommand(ctx))
    .addCommand(monitorCommand(ctx))
  return withHelp(enzoic, { examples: ['breach-bridge enzoic webhooks list', 'breach-bridge enzoic monitor sync --dry-run'], env: ENZOIC_ENV })
}
