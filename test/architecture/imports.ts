/**
 * The import graph of src/ (the bridge's own modules only), read from the sources: what the architecture test
 * checks and what `scripts/house.ts` reports.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

export function sourceFiles (dir = SRC): string[] {
  return readdirSync(dir).flatMap(name => {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) return sourceFiles(p)
    return p.endsWith('.ts') ? [p] : []
  })
}

/** `src/a/b.ts` → `a/b.ts`. */
export const rel = (file: string): string => relative(SRC, file)

/**
 * The relative imports of a file (static and dynamic `import('…')`), as src-relative paths. `types: false`
 * leaves out `import type` / `export type` (erased at run time: they order no module's loading).
 */
export function importsOf (file: string, { types = true }: { types?: boolean } = {}): string[] {
  const text = readFileSync(file, 'utf8')
  const out = new Set<string>()
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s+(type\s)?[^'"`;]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
    if (!types && m[1] !== undefined) continue
    const spec = (m[2] ?? m[3])!
    out.add(rel(resolve(dirname(file), spec.replace(/\.js$/, '.ts'))))
  }
  return [...out]
}

export function importGraph (options: { types?: boolean } = {}): Map<string, string[]> {
  return new Map(sourceFiles().map(f => [rel(f), importsOf(f, options)]))
}

/** Every cycle of the graph (as lists of files), by Tarjan's strongly connected components of size > 1. */
export function cycles (graph: Map<string, string[]>): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const on = new Set<string>()
  const out: string[][] = []
  const visit = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++
    stack.push(v); on.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)) } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = []
      let w: string
      do { w = stack.pop()!; on.delete(w); scc.push(w) } while (w !== v)
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort())
    }
  }
  for (const v of graph.keys()) if (!idx.has(v)) visit(v)
  return out
}

/**
 * The layers, bottom first (docs/design.md §3): a module may import its own layer and those below, never
 * one above. `alerts` and the small shared modules are imported by all; the edge (server, cli) by none.
 */
export const LAYERS: ReadonlyArray<readonly string[]> = [
  ['alerts', 'errors.ts', 'duration.ts', 'closest.ts', 'net', 'process-owner.ts'],
  ['observability'],
  ['store', 'fusionauth', 'enzoic'],
  ['intake', 'remediation', 'digest'],
  ['config'],
  ['operations'],
  ['app.ts', 'server.ts'],
  ['cli', 'cli.ts']
]

/** The layer of a src-relative path (by its first segment), or -1 when no layer names it. */
export function layerOf (file: string): number {
  const top = file.split('/')[0]!
  return LAYERS.findIndex(l => l.includes(top))
}

/** Imports that point up a layer: [from, to]. */
export function upwardImports (graph: Map<string, string[]>): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const [from, tos] of graph) for (const to of tos) if (layerOf(to) > layerOf(from)) out.push([from, to])
  return out
}
