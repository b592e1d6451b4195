// The shape of the code, kept by a test: no import circles among the CLI and the operations, commands reach the
// process only through the context, and no function in src/ grows past 80 lines unless it says why.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))
const FILES = [
  join(SRC, 'cli.ts'),
  ...readdirSync(join(SRC, 'cli')).filter(f => f.endsWith('.ts')).map(f => join(SRC, 'cli', f)),
  ...readdirSync(join(SRC, 'operations')).filter(f => f.endsWith('.ts')).map(f => join(SRC, 'operations', f))
]
const name = (file: string): string => relative(SRC, file)
/** Every TypeScript file under src/. */
const ALL = (readdirSync(SRC, { recursive: true }) as string[]).filter(f => f.endsWith('.ts')).map(f => join(SRC, f))

/** The files of FILES a file imports (type-only imports included: a circle of types is a circle of design). */
function importsOf (file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const targets = [...text.matchAll(/^(?:import|export)\b[^'"]*?from\s+'(\.{1,2}\/[^']+)'/gm)].map(m => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')))
  return targets.filter(f => FILES.includes(f))
}

test('no import circles in src/cli.ts, src/cli/ and src/operations/', () => {
  const graph = new Map(FILES.map(f => [f, importsOf(f)]))
  assert.ok([...graph.values()].some(i => i.length > 0), 'the import pattern still matches')
  const circles: string[] = []
  const visit = (file: string, path: string[]): void => {
    for (const next of graph.get(file) ?? []) {
      if (next === path[0]) circles.push([...path, next].map(name).join(' → '))
      else if (!path.includes(next) && next > path[0]!) visit(next, [...path, next])
    }
  }
  for (const f of FILES) visit(f, [f])
  assert.deepEqual(circles, [])
})

test('operations never import the CLI', () => {
  for (const f of FILES.filter(f => name(f).startsWith('operations/'))) {
    const cli = importsOf(f).filter(i => !name(i).startsWith('operations/'))
    assert.deepEqual(cli.map(name), [], `${name(f)} imports the CLI`)
  }
})

test('commands and operations reach the process only through the context (src/cli/context.ts and main in src/cli.ts)', () => {
  for (const f of FILES) {
    const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').replace(/NodeJS\.Process\w*/g, '')
    const uses = [...code.matchAll(/\bprocess\.(\w+)/g)].map(m => m[1])
    if (name(f) === 'cli/context.ts') continue
    if (name(f) === 'cli.ts') {
      assert.deepEqual([...new Set(uses)].sort(), ['argv', 'exitCode'], 'cli.ts: only main() touches the process')
      continue
    }
    assert.deepEqual(uses, [], `${name(f)} uses process.${uses[0]}`)
    if (name(f).startsWith('cli/')) assert.doesNotMatch(code, /\bloadConfig\(/, `${name(f)} reads the configuration itself: use ctx.config()`)
  }
})

test('no function in src/ is longer than 80 lines, unless a comment right above it says why', () => {
  const long: string[] = []
  for (const f of ALL) {
    const text = readFileSync(f, 'utf8')
    const source = ts.createSourceFile(f, text, ts.ScriptTarget.Latest, true)
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
        const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line
        const lines = source.getLineAndCharacterOfPosition(node.end).line - first + 1
        const above = text.slice(0, node.getFullStart() + node.getLeadingTriviaWidth(source))
        if (lines > 80 && !/longer than 80 lines because/i.test(above.slice(-400))) long.push(`${name(f)}:${first + 1} (${lines} lines)`)
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  assert.deepEqual(long, [])
})
