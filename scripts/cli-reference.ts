// Prints docs/cli.md's command reference: every command's --help, rendered in-process by the program itself
// (test/cli/reference.test.ts checks that docs/cli.md holds exactly this). Regenerate it in place with
// `npx tsx scripts/cli-reference.ts --write`.
import { readFileSync, writeFileSync } from 'node:fs'
import { Readable, Writable } from 'node:stream'
import type { Command } from 'commander'
import { createProgram, run } from '../src/cli.js'
import { createContext, type CliContext } from '../src/cli/context.js'

export const START = '<!-- cli-reference:start -->'
export const END = '<!-- cli-reference:end -->'
const DOC = new URL('../docs/cli.md', import.meta.url)

/** A context whose stdout is kept; no environment, so help never depends on the machine. */
function helpContext (): { ctx: CliContext, text: () => string } {
  let text = ''
  const stdout = new Writable({ write (chunk: Buffer | string, _encoding, done) { text += chunk.toString(); done() } })
  const stderr = new Writable({ write (_chunk, _encoding, done) { done() } })
  return { ctx: createContext({ stdout, stderr, stdin: Readable.from([]), env: {} }), text: () => text }
}

/** Every command's words, the program first, in the order of its help. */
function commandPaths (cmd: Command, path: string[] = []): string[][] {
  return [path, ...cmd.commands.filter(c => c.name() !== 'help').flatMap(c => commandPaths(c, [...path, c.name()]))]
}

export async function cliReference (): Promise<string> {
  const sections: string[] = []
  for (const path of commandPaths(createProgram(helpContext().ctx))) {
    const { ctx, text } = helpContext()
    const code = await run([...path, '--help'], ctx)
    if (code !== 0) throw new Error(`breach-bridge ${path.join(' ')} --help exited ${code}`)
    sections.push(`### \`breach-bridge${path.map(p => ` ${p}`).join('')}\`\n\n\`\`\`text\n${text().trimEnd()}\n\`\`\``)
  }
  return sections.join('\n\n')
}

/** docs/cli.md's reference as it stands, between its markers. */
export function documentedReference (doc = readFileSync(DOC, 'utf8')): string | undefined {
  const start = doc.indexOf(START)
  const end = doc.indexOf(END)
  return start < 0 || end < start ? undefined : doc.slice(start + START.length, end).trim()
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const reference = await cliReference()
  if (process.argv.includes('--write')) {
    const doc = readFileSync(DOC, 'utf8')
    if (documentedReference(doc) === undefined) throw new Error(`docs/cli.md has no ${START} … ${END} markers`)
    writeFileSync(DOC, doc.slice(0, doc.indexOf(START) + START.length) + `\n${reference}\n` + doc.slice(doc.indexOf(END)))
  } else {
    process.stdout.write(reference + '\n')
  }
}
