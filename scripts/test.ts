/**
 * `npm run test:unit`: the test files, each run from an esbuild bundle of it and the sources it imports.
 *
 * Why bundles: on a 2-core machine, loading a test file's TypeScript modules through tsx's loader (a thread
 * of its own, a round trip to it per module) cost ~1.4 s of CPU per file — 110 s of the suite's ~280, for 83
 * files. From a bundle a file loads in ~0.5 s, and bundling all of them takes under a second. Each module keeps
 * its own `import.meta.url` (written in by the plugin below), so every path computed from it — the repository
 * root, the fixtures, the CLI and server entry points that child processes run from source through tsx — is
 * that of the source file. Packages are not bundled: they load from node_modules as they would from source.
 *
 *   npm run test:unit                                   every test file
 *   npm run test:unit -- test/cli/alerts.test.ts        these files (any other argument goes to node --test)
 *   npm run test:unit -- --enable-source-maps …         stack traces on the .ts lines (slower: ~10 %)
 *   node --import tsx --test test/cli/alerts.test.ts    one file from its source, without a bundle
 *
 * Otherwise stack traces point into node_modules/.cache/enzoic-fusionauth-bridge/tests/ (the same relative
 * paths, `.mjs`; modules shared by several files in chunk files).
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as esbuild from 'esbuild'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** The project's cache: these bundles, and the SQLite writer's (src/store/sqlite/committers.ts), emptied per run. */
const CACHE = join(ROOT, 'node_modules', '.cache', 'enzoic-fusionauth-bridge')
const OUT = join(CACHE, 'tests')
/**
 * Test files run at once. Measured on 2 vCPUs from bundles: 3 → 125 s, 4 → 129 s (more processes wait on
 * the same two cores). The tests are CPU-bound; many of them also wait on timers and child processes, which a
 * third file fills.
 */
const CONCURRENCY = 3

/** The repository's own TypeScript: each module's `import.meta.url` becomes the URL of its source file. */
const sourceUrls: esbuild.Plugin = {
  name: 'source-import-meta-url',
  setup (build) {
    build.onLoad({ filter: /\.ts$/ }, async args => {
      const source = await readFile(args.path, 'utf8')
      const url = JSON.stringify(pathToFileURL(args.path).href)
      return { contents: source.replace(/\bimport\.meta\.url\b/g, url), loader: 'ts' }
    })
  }
}

function allTestFiles (): string[] {
  return (readdirSync(join(ROOT, 'test'), { recursive: true }) as string[])
    .filter(f => f.endsWith('.test.ts'))
    .map(f => join(ROOT, 'test', f))
    .sort()
}

async function main (): Promise<number> {
  const args = process.argv.slice(2)
  const isTestFile = (a: string): boolean => a.endsWith('.ts') && existsSync(a)
  const named = args.filter(isTestFile).map(a => resolve(a))
  const passThrough = args.filter(a => !isTestFile(a))
  const entries = named.length > 0 ? named : allTestFiles()

  rmSync(CACHE, { recursive: true, force: true })
  await esbuild.build({
    entryPoints: entries,
    outbase: ROOT,
    outdir: OUT,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node}`,
    sourcemap: 'linked',
    plugins: [sourceUrls],
    logLevel: 'warning'
  })
  const bundles = entries.map(f => join(OUT, relative(ROOT, f)).replace(/\.ts$/, '.mjs'))

  const child = spawn(process.execPath, ['--test', `--test-concurrency=${CONCURRENCY}`, ...passThrough, ...bundles], { stdio: 'inherit' })
  // Ctrl-C reaches the runner by itself (one process group): this only waits for it to end. A SIGTERM sent to
  // this process alone is passed on.
  process.on('SIGINT', () => {})
  process.on('SIGTERM', () => { child.kill('SIGTERM') })
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.on('exit', (c, s) => resolve([c, s])))
  if (signal !== null) return 128 + (signal === 'SIGINT' ? 2 : 15)
  return code ?? 1
}

process.exitCode = await main()
