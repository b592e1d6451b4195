import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8')

test('every variable the configuration reads is in .env.example and the README', () => {
  const source = read('src/config.ts')
  const names = new Set([...source.matchAll(/(?:get|field|optional)\('([A-Z][A-Z0-9_]+)'/g)].map(m => m[1]!))
  assert.ok(names.size >= 25, `found only ${names.size} variables: the pattern no longer matches config.ts`)
  const example = read('.env.example')
  const readme = read('README.md')
  for (const name of names) {
    assert.match(example, new RegExp(`^(# )?${name}=`, 'm'), `${name} missing from .env.example`)
    assert.ok(readme.includes(`\`${name}\``), `${name} missing from README.md`)
  }
})

test('the README shows the test command and CI runs it', () => {
  assert.match(read('README.md'), /npm test/)
  assert.match(read('.ci/run'), /^npm test$/m)
})

test('the README\'s table of lifecycle events is the one src/observability/events.ts defines', async () => {
  const { eventsTable } = await import('../scripts/events-table.js')
  const readme = read('README.md')
  const between = /<!-- events:start -->\n([\s\S]*?)<!-- events:end -->/.exec(readme)
  assert.ok(between !== null, 'the README marks its events table')
  assert.equal(between[1]!.trim(), eventsTable().trim(), 'regenerate it: npx tsx scripts/events-table.ts')
})
