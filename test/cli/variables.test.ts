import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { SECRET_VARIABLES } from '../../src/config.js'
import { CONFIG_VARIABLES, configVariables, editDistance, knownVariables, unknownVariables } from '../../src/operations/variables.js'

test('the variables `check` knows are those src/config.ts reads (read off loadConfig itself), plus NAME_FILE for each secret', () => {
  const source = readFileSync(new URL('../../src/config.ts', import.meta.url), 'utf8')
  const read = new Set([...source.matchAll(/(?:get|field|optional)\('([A-Z][A-Z0-9_]+)'/g)].map(m => m[1]!))
  assert.ok(read.size >= 25, `found only ${read.size}: the pattern no longer matches config.ts`)
  assert.deepEqual(configVariables(), [...read].sort(), 'configVariables() must find exactly what src/config.ts reads')
  for (const name of CONFIG_VARIABLES) assert.ok(read.has(name), `${name} is in CONFIG_VARIABLES but config.ts no longer reads it`)
  const known = knownVariables()
  for (const name of SECRET_VARIABLES) assert.ok(known.includes(`${name}_FILE`), `${name}_FILE`)
})

test('unknown bridge variables, with the closest known name when one is close', () => {
  assert.equal(editDistance('BRIDGE_DRYRUN', 'BRIDGE_DRY_RUN'), 1)
  assert.deepEqual(unknownVariables({ BRIDGE_DRYRUN: '1', BRIDGE_DRY_RUN: '1', PATH: '/bin', ENZOIC_API_KEY_FIEL: 'x', FUSIONAUTH_NOPE_NOTHING_LIKE_IT: 'x' }), [
    { name: 'BRIDGE_DRYRUN', closest: 'BRIDGE_DRY_RUN' },
    { name: 'ENZOIC_API_KEY_FIEL', closest: 'ENZOIC_API_KEY_FILE' },
    { name: 'FUSIONAUTH_NOPE_NOTHING_LIKE_IT' }
  ])
})
