// Runs the measured processes of bench/drain.ts and bench/sync.ts as the bridge runs in production: plain
// `node` on JavaScript, not through tsx (whose loader thread alone adds ~35 MB of RSS). The TypeScript of
// src/, test/fakes/ and bench/{drain,sync}-*.ts is transpiled (type-stripped, no type check) into a folder
// under the project's tmp/ — inside the project, so `node_modules` resolves as usual.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

function walk (dir: string, keep: (file: string) => boolean): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...walk(p, keep))
    else if (keep(p)) out.push(p)
  }
  return out
}

export interface Build {
  /** The compiled counterpart of a project file, e.g. `bench/drain-worker.ts` → `<dir>/bench/drain-worker.js`. */
  file (projectPath: string): string
  remove (): void
}

export function buildForNode (): Build {
  mkdirSync(join(ROOT, 'tmp'), { recursive: true })
  const dir = mkdtempSync(join(ROOT, 'tmp', 'bench-build-'))
  const sources = [
    ...walk(join(ROOT, 'src'), f => f.endsWith('.ts') && !f.endsWith('.d.ts')),
    ...walk(join(ROOT, 'test', 'fakes'), f => f.endsWith('.ts') && !f.endsWith('.test.ts')),
    ...walk(join(ROOT, 'bench'), f => /\/(drain|sync)-[^/]+\.ts$/.test(f))
  ]
  for (const src of sources) {
    const { outputText } = ts.transpileModule(readFileSync(src, 'utf8'), {
      fileName: src,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true, sourceMap: false }
    })
    const out = join(dir, relative(ROOT, src)).replace(/\.ts$/, '.js')
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, outputText)
  }
  writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n')
  return {
    file: projectPath => join(dir, projectPath.replace(/\.ts$/, '.js')),
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}
