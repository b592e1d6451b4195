import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpDir } from '../helper.js'
import { cli } from '../fixtures/in-process.js'

// The scripts are made in-process; bash and zsh themselves check and run them.
test('completion: bash and zsh scripts from the command tree; the bash one loads and completes', async t => {
  const dir = tmpDir(t)
  const bash = await cli(['completion', 'bash'], {})
  assert.equal(bash.code, 0, bash.stderr)
  const file = join(dir, 'breach-bridge.bash')
  writeFileSync(file, bash.stdout)
  const syntax = spawnSync('bash', ['-n', file], { encoding: 'utf8' })
  assert.equal(syntax.status, 0, syntax.stderr)
  const complete = (...words: string[]): string => {
    const script = `source ${JSON.stringify(file)}; COMP_WORDS=(${words.map(w => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _breach_bridge; echo "\${COMPREPLY[*]}"`
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', cwd: dir })
    assert.equal(r.status, 0, r.stderr)
    return r.stdout.trim()
  }
  assert.equal(complete('breach-bridge', 'al'), 'alerts')
  assert.equal(complete('breach-bridge', 'alerts', 'p'), 'purge')
  assert.equal(complete('breach-bridge', 'alerts', 'list', '--st'), '--state')
  assert.match(complete('breach-bridge', 'alerts', 'list', '--state', ''), /^queued processing retrying .*done dead$/)
  assert.equal(complete('breach-bridge', 'enzoic', 'webhooks', 'register', '--write-env', 'breach-bridge.b'), 'breach-bridge.bash')
  assert.equal(complete('breach-bridge', 'completion', ''), 'bash zsh')
  assert.equal(complete('breach-bridge', 'alerts', 'list', '--limit', '5', '--ou'), '--outcome')

  const zsh = await cli(['completion', 'zsh'], {})
  assert.equal(zsh.code, 0, zsh.stderr)
  assert.match(zsh.stdout, /^#compdef breach-bridge$/m)
  const zshFile = join(dir, '_breach-bridge')
  writeFileSync(zshFile, zsh.stdout)
  if (spawnSync('zsh', ['--version']).error !== undefined) {
    t.diagnostic('zsh not installed: the zsh script was not syntax-checked')
    return
  }
  const z = spawnSync('zsh', ['-n', zshFile], { encoding: 'utf8' })
  assert.equal(z.status, 0, z.stderr)
})

test('completion --alias: the script completes the deployment guide\'s bb helper (a shell function) too', async t => {
  const dir = tmpDir(t)
  const bash = await cli(['completion', 'bash', '--alias', 'bb'], {})
  assert.equal(bash.code, 0, bash.stderr)
  const file = join(dir, 'bb.bash')
  writeFileSync(file, bash.stdout)
  // As the README has it: bb is a shell function, the script loaded with eval.
  const script = `bb () { :; }; eval "$(cat ${JSON.stringify(file)})"; complete -p bb; COMP_WORDS=(bb alerts li); COMP_CWORD=2; _breach_bridge; echo "\${COMPREPLY[*]}"`
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', cwd: dir })
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(r.stdout.trim().split('\n'), ['complete -F _breach_bridge bb', 'list'])
  const zsh = await cli(['completion', 'zsh', '--alias', 'bb'], {})
  assert.match(zsh.stdout, /^ {2}compdef _breach_bridge breach-bridge bb$/m)
  const bad = await cli(['completion', 'bash', '--alias', 'b b;rm'], {})
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--alias takes a command name/)
})
