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

test('the README and docs/cli.md name every alert state, outcome and step state the commands use (one vocabulary)', async () => {
  const { ALERT_OUTCOMES, ALERT_STATES, STEP_STATES, USER_OUTCOMES } = await import('../src/alerts/outcomes.js')
  const { createProgram } = await import('../src/cli.js')
  const { testContext } = await import('./fixtures/in-process.js')
  const names = [...ALERT_STATES, ...Object.keys(USER_OUTCOMES), ...Object.keys(ALERT_OUTCOMES), ...STEP_STATES]
  const cli = read('docs/cli.md')
  assert.deepEqual(names.filter(n => !cli.includes(`| \`${n}\` |`)), [], 'docs/cli.md: every name in its table, with its meaning')
  const readme = read('README.md')
  for (const [list, of] of [[ALERT_STATES, 'alert states'], [Object.keys(USER_OUTCOMES), 'outcomes of a user'], [Object.keys(ALERT_OUTCOMES), 'outcomes of an alert'],
    [STEP_STATES, 'step states']] as const) {
    assert.ok(readme.includes(`${list.map(n => `\`${n}\``).join(', ')}`), `the README lists every one of the ${of}`)
  }
  // The commands' own choices are that list too.
  const program = createProgram(testContext({}).ctx)
  const choices = (path: string[], flag: string): readonly string[] | undefined => {
    let cmd = program
    for (const p of path) cmd = cmd.commands.find(c => c.name() === p)!
    return cmd.options.find(o => o.long === flag)?.argChoices
  }
  assert.deepEqual(choices(['alerts', 'list'], '--outcome'), Object.keys(ALERT_OUTCOMES))
  assert.deepEqual(choices(['alerts', 'list'], '--state'), ALERT_STATES)
  assert.deepEqual(choices(['users', 'list'], '--state'), Object.keys(USER_OUTCOMES))
})
