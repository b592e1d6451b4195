import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8')

test('the README shows the test command and CI runs it', () => {
  assert.match(read('README.md'), /npm test/)
  assert.match(read('.ci/run'), /^npm test$/m)
})

test('every generated block of the docs is up to date (npm run docs): .env.example, the configuration table, the API-key list, the events tables', async () => {
  const { between, generatedBlocks } = await import('../scripts/docs.js')
  for (const b of await generatedBlocks()) {
    const text = read(b.file)
    const committed = b.marker === undefined ? text : between(text, b.marker)
    assert.ok(committed !== undefined, `${b.file} marks its ${b.marker ?? ''} block`)
    assert.equal(committed, b.content, `${b.file}${b.marker === undefined ? '' : ` (${b.marker})`} is out of date: run npm run docs`)
  }
})
