import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { cycles, importGraph, layerOf, rel, sourceFiles, upwardImports } from './imports.js'

test('src/ has no import circle (at run time: a type-only import orders nothing)', () => {
  const graph = importGraph({ types: false })
  assert.ok(graph.size > 50, `read ${graph.size} modules`)
  assert.deepEqual(cycles(graph), [])
})

test('no module imports one above it (layers: alerts < observability < store, fusionauth, enzoic < intake, remediation, digest < config < operations < app, server < cli)', () => {
  const graph = importGraph()
  const unknown = [...graph.keys()].filter(f => layerOf(f) < 0)
  assert.deepEqual(unknown, [], 'every module belongs to a layer (test/architecture/imports.ts LAYERS)')
  assert.deepEqual(upwardImports(graph).map(([a, b]) => `${a} → ${b}`), [])
})

test('the boundaries: intake never calls FusionAuth or Enzoic, remediation never sees HTTP requests, only store/ touches a database', () => {
  const graph = importGraph()
  for (const [from, tos] of graph) {
    if (from.startsWith('intake/')) assert.ok(!tos.some(t => t.startsWith('fusionauth/') || t.startsWith('enzoic/') || t.startsWith('remediation/')), `${from} imports ${tos.join(', ')}`)
    if (from.startsWith('remediation/')) assert.ok(!tos.some(t => t.startsWith('intake/') || t === 'app.ts'), `${from}`)
  }
})

test('only store/ touches a database driver', () => {
  for (const file of sourceFiles()) {
    if (rel(file).startsWith('store/')) continue
    assert.ok(!/from ['"](better-sqlite3|pg)['"]/.test(readFileSync(file, 'utf8')), `${rel(file)} imports a database driver`)
  }
})
