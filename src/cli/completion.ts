/**
 * `breach-bridge completion bash|zsh`: shell completion scripts generated from the command tree itself, so
 * they can never list a command or option the CLI does not have (test/cli/completion.test.ts loads the bash
 * script and completes with it, and syntax-checks the zsh one).
 */
import { Argument, Command } from 'commander'
import { action } from './command.js'
import { CliError } from './exit.js'
import type { CliContext } from './context.js'
import { withHelp } from './help.js'
import { outputTo } from './output.js'

interface OptionSpec { flags: string[], takesValue: boolean, choices?: readonly string[], files: boolean }
interface NodeSpec {
  /** Command words after `breach-bridge`, e.g. ['enzoic', 'webhooks', 'register']. */
  path: string[]
  commands: Array<{ name: string, description: string }>
  options: OptionSpec[]
  /** Choices of the first argument, when it has any. */
  argChoices?: readonly string[]
}

/** Options whose value is a file name. */
const FILE_OPTIONS = new Set(['--write-env'])

function walk (cmd: Command, path: string[], out: NodeSpec[]): void {
  const options: OptionSpec[] = cmd.options.map(o => ({
    flags: [o.long, o.short].filter((f): f is string => typeof f === 'string'),
    takesValue: o.required || o.optional,
    choices: o.argChoices,
    files: o.long !== undefined && FILE_OPTIONS.has(o.long)
  }))
  options.push({ flags: ['--help', '-h'], takesValue: false, files: false })
  const args = (cmd as Command & { registeredArguments: readonly Argument[] }).registeredArguments
  const visible = cmd.commands.filter(c => !(c as Command & { _hidden?: boolean })._hidden)
  out.push({
    path,
    commands: visible.map(c => ({ name: c.name(), description: c.description().split('\n')[0] ?? '' })),
    options,
    argChoices: args[0]?.argChoices
  })
  for (const c of visible) walk(c, [...path, c.name()], out)
}

export function commandTree (program: Command): NodeSpec[] {
  const out: NodeSpec[] = []
  walk(program, [], out)
  return out
}

const key = (path: string[]): string => path.map(p => ` ${p}`).join('')
const sq = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`

export function bashCompletion (program: Command, aliases: readonly string[] = []): string {
  const name = program.name()
  const fn = `_${name.replace(/[^A-Za-z0-9]/g, '_')}`
  const nodes = commandTree(program)
  const subcommandCases = nodes.filter(n => n.commands.length > 0)
    .map(n => `      ${sq(key(n.path))}) case "$w" in ${n.commands.map(c => c.name).join('|')}) cmdpath="$cmdpath $w" ;; esac ;;`)
  const valueCases: string[] = []
  for (const n of nodes) {
    for (const o of n.options.filter(o => o.takesValue)) {
      const action = o.choices !== undefined
        ? `COMPREPLY=($(compgen -W ${sq(o.choices.join(' '))} -- "$cur"))`
        : o.files ? 'COMPREPLY=($(compgen -f -- "$cur"))' : 'COMPREPLY=()'
      for (const f of o.flags) valueCases.push(`    ${sq(`${key(n.path)}:${f}`)}) ${action}; return 0 ;;`)
    }
  }
  const wordCases = nodes.map(n => {
    const words = [...n.commands.map(c => c.name), ...(n.argChoices ?? [])]
    const opts = n.options.flatMap(o => o.flags.filter(f => f.startsWith('--')))
    return `    ${sq(key(n.path))}) words=${sq(words.join(' '))}; opts=${sq(opts.join(' '))} ;;`
  })
  return `# bash completion for ${name} (made by \`${name} completion bash\`; docs/cli.md)
# Install: source it from ~/.bashrc, e.g.  source <(${name} completion bash)
# or save it as /etc/bash_completion.d/${name} (or ~/.local/share/bash-completion/completions/${name}).

${fn} () {
  local cur prev cmdpath w i words opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev=""
  [ "$COMP_CWORD" -gt 0 ] && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmdpath=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$cmdpath" in
${subcommandCases.join('\n')}
    esac
  done
  case "$cmdpath:$prev" in
${valueCases.join('\n')}
  esac
  words=""
  opts=""
  case "$cmdpath" in
${wordCases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  fi
  return 0
}
complete -F ${fn} ${[name, ...aliases].join(' ')}
`
}

export function zshCompletion (program: Command, aliases: readonly string[] = []): string {
  const name = program.name()
  const fn = `_${name.replace(/[^A-Za-z0-9]/g, '_')}`
  const nodes = commandTree(program)
  const zq = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`
  const subcommandCases = nodes.filter(n => n.commands.length > 0)
    .map(n => `      (${zq(key(n.path))}) case $w in (${n.commands.map(c => c.name).join('|')}) cmdpath="$cmdpath $w" ;; esac ;;`)
  const valueCases: string[] = []
  for (const n of nodes) {
    for (const o of n.options.filter(o => o.takesValue)) {
      const action = o.choices !== undefined ? `compadd -- ${o.choices.join(' ')}` : o.files ? '_files' : ':'
      for (const f of o.flags) valueCases.push(`    (${zq(`${key(n.path)}:${f}`)}) ${action}; return ;;`)
    }
  }
  const nodeCases = nodes.map(n => {
    const cmds = n.commands.map(c => zq(`${c.name}:${c.description.replace(/:/g, '\\:')}`))
    const opts = n.options.flatMap(o => o.flags.filter(f => f.startsWith('--')))
    const args = n.argChoices ?? []
    return `    (${zq(key(n.path))}) cmds=(${cmds.join(' ')}); opts=(${opts.join(' ')}); args=(${args.join(' ')}) ;;`
  })
  return `#compdef ${name}
# zsh completion for ${name} (made by \`${name} completion zsh\`; docs/cli.md)
# Install: save it as _${name} in a folder of $fpath (e.g. ~/.zfunc, with fpath+=(~/.zfunc) before compinit),
# or source it after compinit:  source <(${name} completion zsh)

${fn} () {
  local cmdpath="" w i prev
  local -a cmds opts args
  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    case $cmdpath in
${subcommandCases.join('\n')}
    esac
  done
  prev=\${words[CURRENT-1]}
  case "$cmdpath:$prev" in
${valueCases.join('\n')}
  esac
  case $cmdpath in
${nodeCases.join('\n')}
  esac
  if [[ \${words[CURRENT]} == -* ]]; then
    compadd -- $opts
  else
    (( \${#cmds} )) && _describe -t commands 'command' cmds
    (( \${#args} )) && compadd -- $args
  fi
}

if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${[name, ...aliases].join(' ')}
fi
`
}

/** A command name the shell can complete: a plain word. */
function aliasName (v: string): string {
  if (!/^[A-Za-z0-9_.+-]+$/.test(v)) throw new CliError('--alias takes a command name (letters, digits, _ . + -)')
  return v
}

export function completionCommand (program: () => Command, ctx: CliContext): Command {
  const { outRaw } = outputTo(ctx)
  const cmd = new Command('completion')
    .description('print a shell completion script (bash or zsh)')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .option('--alias <name>', 'complete this name too (a shell function or alias that runs breach-bridge, e.g. the deployment guide\'s bb); repeatable',
      (v: string, all: string[]) => [...all, aliasName(v)], [] as string[])
    .action(action(async (shell: 'bash' | 'zsh', opts: { alias: string[] }) => {
      outRaw(shell === 'bash' ? bashCompletion(program(), opts.alias) : zshCompletion(program(), opts.alias))
    }))
  return withHelp(cmd, {
    examples: [
      'source <(breach-bridge completion bash)        # this bash session; add the line to ~/.bashrc to keep it',
      'breach-bridge completion bash | sudo tee /etc/bash_completion.d/breach-bridge',
      'breach-bridge completion zsh > ~/.zfunc/_breach-bridge   # with fpath+=(~/.zfunc) before compinit in ~/.zshrc',
      'eval "$(bb completion bash --alias bb)"        # the deployment guide\'s bb helper (a shell function)'
    ],
    env: []
  })
}
