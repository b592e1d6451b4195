import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import ts from 'typescript'
import { check } from 'recheck'
import * as decrypt from '../../src/intake/decrypt.js'

// No regular expression on the request path may take more than linear time in its input. recheck (a ReDoS
// checker that decides by automata theory where it can, and by fuzzing otherwise) runs locally: the native
// binary of its optional dependency, or its JavaScript build. Timing nothing, it fails on a pattern such as
// the old Base64 check `/^[A-Za-z0-9+/\r\n]+={0,2}\s*$/`, which took ~4.5 s on 64 KB of "\r\n".

const ROOT = new URL('../../', import.meta.url)
/** The bridge's own source files a webhook request runs through before its answer. */
const REQUEST_PATH = [
  ...readdirSync(new URL('src/intake/', ROOT)).filter(f => f.endsWith('.ts')).map(f => `src/intake/${f}`),
  'src/alerts/normalise.ts'
]

interface Found { file: string, line: number, source: string, flags: string }

/** The regular-expression literals of a file, and every `RegExp(…)` built at run time (which cannot be checked). */
function regexes (file: string): { literals: Found[], constructed: string[] } {
  const text = readFileSync(new URL(file, ROOT), 'utf8')
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const literals: Found[] = []
  const constructed: string[] = []
  const visit = (node: ts.Node): void => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1
    if (ts.isRegularExpressionLiteral(node)) {
      const slash = node.text.lastIndexOf('/')
      literals.push({ file, line, source: node.text.slice(1, slash), flags: node.text.slice(slash + 1) })
    } else if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && ts.isIdentifier(node.expression) && node.expression.text === 'RegExp') {
      constructed.push(`${file}:${line}`)
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return { literals, constructed }
}

test('the ReDoS checker finds the old Base64 body check vulnerable (it works here, offline)', { timeout: 60_000 }, async () => {
  const old = await check('^[A-Za-z0-9+/\\r\\n]+={0,2}\\s*$', '')
  assert.equal(old.status, 'vulnerable')
  assert.equal(old.status === 'vulnerable' && old.complexity.type, 'polynomial')
})

test('every regular expression on the request path runs in linear time', { timeout: 300_000 }, async t => {
  const all = REQUEST_PATH.map(regexes)
  assert.deepEqual(all.flatMap(r => r.constructed), [], 'a RegExp built at run time cannot be checked: use a literal')
  const literals = all.flatMap(r => r.literals)
  assert.ok(literals.length >= 10, `found only ${literals.length} literals: the scan no longer sees them`)
  const unsafe: string[] = []
  for (const r of literals) {
    const d = await check(r.source, r.flags, { timeout: 60_000 })
    const where = `${r.file}:${r.line} /${r.source}/${r.flags}`
    if (d.status !== 'safe') {
      const attack = d.status === 'vulnerable' ? ` (${d.complexity.type}; attack ${d.attack.pattern.slice(0, 60)})` : ` (${d.error.kind})`
      unsafe.push(`${where}: ${d.status}${attack}`)
    }
  }
  t.diagnostic(`${literals.length} literals checked in ${REQUEST_PATH.length} files`)
  assert.deepEqual(unsafe, [])
})

test('the Base64 body check is one pass: 64 KB of "\\r\\n" pairs, the old attack, is refused by reading it once', () => {
  const attack = '+' + '\r\n'.repeat(32 * 1024) + '\0'
  assert.throws(() => decrypt.decryptPayload(Buffer.from(attack, 'latin1'), Buffer.alloc(32), 'cbc'), decrypt.DecryptError)
  const { base64Bytes } = decrypt
  assert.equal(base64Bytes(attack), undefined)
  // Whitespace anywhere is still skipped, and padding only ends the text.
  assert.deepEqual(base64Bytes(' QU\r\nJD\tRA==\n'), Buffer.from('ABCD'))
  assert.deepEqual(base64Bytes('QUJDRA'), Buffer.from('ABCD'))
  for (const bad of ['', '   ', 'QUJDRA=x', 'QUJDR===', 'Q', 'QUJD!A==', 'QU=JD']) assert.equal(base64Bytes(bad), undefined, JSON.stringify(bad))
})
