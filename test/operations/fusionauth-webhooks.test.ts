// The FusionAuth webhook operations (src/operations/fusionauth-webhooks.ts) and the env-file setter they write the secret
// with (src/operations/env-file.ts), on real files and the FusionAuth fake over HTTP. What the command prints, the
// register/update/rotate paths and the roll-back after a failed write: test/cli/fusionauth.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseEnv } from 'dotenv'
import { createFusionAuthGateway } from '../../src/fusionauth/index.js'
import { EnvFileError, openEnvFile } from '../../src/operations/enzoic.js'
import { EnvValueError } from '../../src/operations/env-file.js'
import {
  deleteFusionAuthWebhook, listFusionAuthWebhooks, newSecret, registerFusionAuthWebhook, targetsBridge, WebhookNotFoundError, wantedTransaction
} from '../../src/operations/fusionauth-webhooks.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { tmpDir } from '../helper.js'

test('openEnvFile().set: the first assignment replaced where it stands (later ones removed), or appended after a comment; quoted; 0600; refusals', t => {
  const dir = tmpDir(t)
  const file = join(dir, 'bridge.env')
  writeFileSync(file, 'A=1\nexport FUSIONAUTH_WEBHOOK_SECRET=old\nB=2\nFUSIONAUTH_WEBHOOK_SECRET="older"\nC=3', { mode: 0o644 })
  const f = openEnvFile(file, () => Date.parse('2026-03-01T12:00:00Z'))
  assert.equal(statSync(file).mode & 0o777, 0o600, '0600 as soon as it is open')
  assert.deepEqual(f.set('FUSIONAUTH_WEBHOOK_SECRET', 'Bearer abc', 'a comment'), { replaced: true })
  f.close()
  assert.equal(readFileSync(file, 'utf8'), 'A=1\nFUSIONAUTH_WEBHOOK_SECRET="Bearer abc"\nB=2\nC=3')
  assert.equal(parseEnv(readFileSync(file)).FUSIONAUTH_WEBHOOK_SECRET, 'Bearer abc')
  assert.equal(statSync(file).mode & 0o777, 0o600, 'the replacing file is 0600 too')

  const other = join(dir, 'other.env')
  writeFileSync(other, 'LOG_LEVEL=info')
  const g = openEnvFile(other, () => Date.parse('2026-03-01T12:00:00Z'))
  assert.deepEqual(g.set('FUSIONAUTH_WEBHOOK_SECRET', 'Bearer xyz', 'FusionAuth webhook'), { replaced: false })
  assert.equal(readFileSync(other, 'utf8'), 'LOG_LEVEL=info\n\n# FusionAuth webhook, 2026-03-01T12:00:00.000Z\nFUSIONAUTH_WEBHOOK_SECRET="Bearer xyz"\n')
  for (const bad of ['with "quote', 'a$b', 'back\\slash', 'tick`', 'two\nlines']) {
    assert.throws(() => g.set('FUSIONAUTH_WEBHOOK_SECRET', bad, 'x'), EnvValueError, JSON.stringify(bad))
  }
  g.close()
  assert.equal(parseEnv(readFileSync(other)).FUSIONAUTH_WEBHOOK_SECRET, 'Bearer xyz', 'a refused value leaves the file as it was')

  writeFileSync(other, 'FUSIONAUTH_WEBHOOK_SECRET_FILE=/run/secret\n')
  const h = openEnvFile(other)
  assert.throws(() => h.set('FUSIONAUTH_WEBHOOK_SECRET', 'Bearer z', 'x'), /sets FUSIONAUTH_WEBHOOK_SECRET_FILE/)
  h.close()
  assert.throws(() => openEnvFile(dir), (e: unknown) => e instanceof EnvFileError && e.reason === 'not-a-file')
})

test('targetsBridge: by the secret (any of the rotation values, compared in constant time) before the path; wantedTransaction; newSecret', () => {
  const secret = newSecret()
  assert.match(secret, /^Bearer [A-Za-z0-9_-]{43}$/)
  assert.notEqual(newSecret(), secret)
  const hook = { id: 'w', url: 'https://bridge.example.com/hooks', headers: { authorization: secret } }
  assert.equal(targetsBridge(hook, ['Bearer old', secret]), 'secret', 'the header name in any case')
  assert.equal(targetsBridge(hook, ['Bearer old']), undefined)
  assert.equal(targetsBridge({ ...hook, url: 'https://bridge.example.com/webhooks/fusionauth/' }, []), 'path')
  assert.equal(targetsBridge({ ...hook, url: 'not a url' }, []), undefined)
  assert.equal(wantedTransaction('user.password.breach', 'block'), 'Any')
  assert.equal(wantedTransaction('user.password.breach', 'allow'), 'None')
  assert.equal(wantedTransaction('user.create', 'block'), 'None')
})

test('registerFusionAuthWebhook, listFusionAuthWebhooks, deleteFusionAuthWebhook: the library against the fake', async t => {
  const fa = await startFusionAuthFake({ tenants: 2 })
  const gateway = createFusionAuthGateway({ url: fa.url, apiKey: fa.apiKey, timeoutMs: 2000 })
  t.after(async () => { await gateway.close(); await fa.close() })
  const tenants = async (): Promise<string[]> => [fa.tenants[1]!.id]
  const url = 'https://bridge.example.com/webhooks/fusionauth'
  const first = await registerFusionAuthWebhook(gateway, { url, tenantIds: [fa.tenants[1]!.id], breachLogin: 'block' }, tenants)
  assert.equal(first.webhook.change, 'created')
  assert.deepEqual(first.tenants.map(x => [x.id, x.change, x.transactions['user.password.breach']]), [[fa.tenants[1]!.id, 'updated', 'Any']])
  assert.equal(fa.tenants[0]!.eventConfiguration.events['user.create']!.enabled, false, 'a tenant not asked for is left alone')
  assert.ok(first.secret !== undefined)
  const again = await registerFusionAuthWebhook(gateway, { url, tenantIds: [fa.tenants[1]!.id], breachLogin: 'block' }, tenants)
  assert.deepEqual([again.webhook.change, again.tenants[0]!.change, again.secret], ['unchanged', 'unchanged', undefined])

  const listed = await listFusionAuthWebhooks(gateway, [first.secret!])
  assert.deepEqual(listed.map(w => [w.id, w.targetsBridge, w.missing, w.global, w.tenantIds]), [[first.webhook.id, 'secret', [], false, [fa.tenants[1]!.id]]])
  assert.ok(!JSON.stringify(listed).includes(first.secret!))
  await deleteFusionAuthWebhook(gateway, first.webhook.id)
  await assert.rejects(deleteFusionAuthWebhook(gateway, first.webhook.id), WebhookNotFoundError)
  await assert.rejects(deleteFusionAuthWebhook(gateway, 'not-an-id'), WebhookNotFoundError)
  assert.deepEqual(fa.webhooks(), [])
})
