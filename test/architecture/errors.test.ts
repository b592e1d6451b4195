import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { ERROR_CODES } from '../../src/errors.js'
import { rel, sourceFiles } from './imports.js'

test('every exported error class extends BridgeError, and every code is declared once in src/errors.ts and used', () => {
  const texts = sourceFiles().filter(f => !f.endsWith('/errors.ts') || rel(f) !== 'errors.ts').map(f => ({ file: rel(f), text: readFileSync(f, 'utf8') }))
  const plain: string[] = []
  for (const { file, text } of texts) {
    for (const m of text.matchAll(/^export class (\w+) extends Error\b/gm)) plain.push(`${file}: ${m[1]}`)
  }
  assert.deepEqual(plain, [], 'exported errors extend BridgeError (a code, a name, a JSON form)')
  const all = texts.map(t => t.text).join('\n')
  for (const code of Object.keys(ERROR_CODES)) assert.ok(all.includes(`'${code}'`), `${code} is declared but never used`)
  // Codes are the `readonly code = 'BRIDGE_…'` of a class (or an OperatorActionError's); variables share the prefix.
  const used = new Set([...all.matchAll(/code(?:: [^=\n]*)? = '(BRIDGE_[A-Z_]+)'|OperatorActionError\('(BRIDGE_[A-Z_]+)'/g)].map(m => (m[1] ?? m[2])!))
  assert.deepEqual([...used].filter(c => !(c in ERROR_CODES)), [], 'every code used is declared in src/errors.ts')
})
