import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { ConfigError, editDistance, knownVariables, loadConfig, SECRET_VARIABLES, unknownVariables, VARIABLES } from '../../src/config/index.js'
import { renderEnvExample } from '../../src/config/render.js'
import { Bad } from '../../src/config/parsers.js'

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')

test('every variable is declared once: defaults parse, names are unique, secrets have a _FILE form', () => {
  const names = VARIABLES.map(v => v.name)
  assert.equal(new Set(names).size, names.length, 'a variable is declared twice')
  assert.ok(names.length >= 40, `only ${names.length} variables`)
  for (const v of VARIABLES) {
    if (v.default !== undefined) assert.ok(!(v.parse(v.default) instanceof Bad), `${v.name}: its default ${v.default} does not parse`)
    assert.ok(v.doc.length > 10, `${v.name} has no README line`)
  }
  const known = knownVariables()
  for (const name of SECRET_VARIABLES) assert.ok(known.includes(`${name}_FILE`), `${name}_FILE`)
  // Every declared default loads: a minimal environment is valid.
  assert.doesNotThrow(() => loadConfig({ ENZOIC_WEBHOOK_CREDENTIALS: 'k:s' }, ['webhook']))
})

test('a declared variable is read: a bad value of each one is reported under its name', () => {
  // Values no parser of this table accepts (a number where text is fine is skipped: text accepts anything).
  const skip = new Set(['HOST', 'ENZOIC_CLIENT_CERT_CN', 'BRIDGE_DATABASE', 'TLS_CERT_FILE', 'TLS_KEY_FILE', 'ENZOIC_CLIENT_CA_FILE',
    'ENZOIC_API_KEY', 'ENZOIC_API_SECRET', 'FUSIONAUTH_API_KEY', 'BRIDGE_PROTECTED_USERS', 'BRIDGE_POLICY_FILE', 'BRIDGE_NOTIFY_SECRET',
    'FUSIONAUTH_WEBHOOK_SECRET', 'FUSIONAUTH_WEBHOOK_HMAC_KEY'])
  for (const v of VARIABLES.filter(x => !skip.has(x.name))) {
    let problems: string[] = []
    try {
      loadConfig({ ENZOIC_WEBHOOK_CREDENTIALS: 'k:s', [v.name]: '%%bad value%%' })
    } catch (err) {
      assert.ok(err instanceof ConfigError)
      problems = err.problems
    }
    assert.ok(problems.some(p => p.startsWith(`${v.name}: `)), `${v.name}: no problem reported for a bad value (${problems.join('; ')})`)
    assert.ok(problems.every(p => !p.includes('%%bad value%%')), `${v.name}: the value is echoed`)
  }
})

test('.env.example and the README\'s configuration table are generated from the table (npm run docs)', async () => {
  assert.equal(read('.env.example'), renderEnvExample(), '.env.example is out of date: npm run docs')
  const example = read('.env.example')
  const readme = read('README.md')
  for (const v of VARIABLES) {
    assert.match(example, new RegExp(`^(# )?${v.name}=`, 'm'), `${v.name} missing from .env.example`)
    assert.ok(readme.includes(`| \`${v.name}\` |`), `${v.name} missing from the README's table`)
  }
})

test('unknown bridge variables, with the closest known name when one is close', () => {
  assert.equal(editDistance('BRIDGE_DRYRUN', 'BRIDGE_DRY_RUN'), 1)
  assert.deepEqual(unknownVariables({ BRIDGE_DRYRUN: '1', BRIDGE_DRY_RUN: '1', PATH: '/bin', ENZOIC_API_KEY_FIEL: 'x', FUSIONAUTH_NOPE_NOTHING_LIKE_IT: 'x' }), [
    { name: 'BRIDGE_DRYRUN', closest: 'BRIDGE_DRY_RUN' },
    { name: 'ENZOIC_API_KEY_FIEL', closest: 'ENZOIC_API_KEY_FILE' },
    { name: 'FUSIONAUTH_NOPE_NOTHING_LIKE_IT' }
  ])
  // Every declared variable and every _FILE form of a secret is known.
  assert.deepEqual(unknownVariables(Object.fromEntries(knownVariables().map(n => [n, 'x']))), [])
})
