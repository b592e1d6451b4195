import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cliReference, documentedReference } from '../../scripts/cli-reference.js'

test('docs/cli.md\'s command reference is every command\'s --help as the program prints it', async () => {
  const documented = documentedReference()
  assert.ok(documented !== undefined, 'docs/cli.md marks its command reference')
  const generated = await cliReference()
  assert.match(generated, /^### `breach-bridge enzoic monitor sync`$/m, 'the reference reaches the deepest commands')
  assert.equal(documented, generated, 'regenerate it: npx tsx scripts/cli-reference.ts --write')
})
