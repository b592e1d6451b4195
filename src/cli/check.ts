import { Command } from 'commander'
import { runChecks } from '../operations/check.js'
import { action } from './command.js'
import type { CliContext } from './context.js'
import { EXIT } from './exit.js'
import { withHelp } from './help.js'
import { inert, outputTo } from './output.js'

export function checkCommand (ctx: CliContext): Command {
  const { out, outJson } = outputTo(ctx)
  return withHelp(new Command('check')
    .description('a doctor: configuration, database, certificates, FusionAuth and the Enzoic API; one OK/FAIL/WARN/SKIP line per check, every problem at once; exit 1 on any FAIL')
    .addHelpText('after', '\nFusionAuth is first proven to be FusionAuth (by answers only FusionAuth gives), then probed for the tenant list,\neach permission the actions and their undo need, the user search of `monitor sync`, the actor user, the groups,\nuser actions and email templates the policies name, the policy file\'s tenants and protected groups;\nBRIDGE_NOTIFY_URL is proven reachable (TCP, TLS), nothing posted. Nothing is changed anywhere.')
    .option('--json', 'as JSON: {"ok": bool, "checks": [{"level", "what", "detail"}]}')
    .action(action(async (opts: { json?: boolean }) => {
      // The raw environment, not ctx.config(): check reports every problem of it, and variables it ignores.
      const report = await runChecks(ctx.env)
      if (opts.json === true) {
        outJson(report)
      } else {
        const width = Math.max(...report.checks.map(l => l.what.length))
        // A detail of several lines (a YAML error with the line it points at) continues under its first line.
        const pad = ' '.repeat(4 + 2 + width + 2)
        for (const l of report.checks) out(`${l.level.padEnd(4)}  ${inert(l.what).padEnd(width)}  ${l.detail.split('\n').map(d => inert(d)).join(`\n${pad}`)}`)
        const count = (level: string): number => report.checks.filter(l => l.level === level).length
        out(`\n${report.ok ? 'No problem found' : `${count('FAIL')} problem(s) found`}${count('WARN') > 0 ? `, ${count('WARN')} warning(s)` : ''}.`)
      }
      return report.ok ? EXIT.ok : EXIT.failure
    })), {
    examples: [
      'breach-bridge check',
      'breach-bridge check --json | jq \'.checks[] | select(.level == "FAIL")\''
    ],
    env: [
      'every variable of the configuration (docs/cli.md, "Environment"); problems in it are FAIL lines (exit 1), and the rest is still checked',
      'BRIDGE_*, ENZOIC_*, FUSIONAUTH_* variables the bridge does not read are WARN lines naming the closest known one'
    ]
  })
}
