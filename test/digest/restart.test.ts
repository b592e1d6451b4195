// An operator message being delivered when the bridge is killed is delivered by the restarted bridge at once,
// not after its 120 s lease (the dead process's outbox leases are released at start-up, as its alerts' are).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, testEnv, tmpDir, waitFor } from '../helper.js'
import { spawnBridge } from '../fixtures/processes.js'

test('SIGKILL while a digest message is being delivered: the restarted bridge delivers it within seconds', async t => {
  const received: string[] = []
  const held: ServerResponse[] = []
  let answering = false
  const receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      if (!answering) { held.push(res); return } // the first delivery is never answered
      received.push(`${String(req.headers['webhook-id'])} ${body}`)
      res.writeHead(200).end()
    })
  })
  await new Promise<void>(resolve => receiver.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => { receiver.closeAllConnections(); receiver.close(resolve) }))
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'digest-kill@acme-corp.io' })
  fa.revokeKey() // the worker pauses at the first alert: a message goes out at once

  const env = testEnv(tmpDir(t), {
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    BRIDGE_NOTIFY_URL: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`
  })
  const first = await spawnBridge(env)
  t.after(() => { if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL') })
  assert.equal((await postAlert(first.url, { username: 'digest-kill@acme-corp.io', exposureID: 'exp-digest' })).status, 200)
  await waitFor(() => held.length > 0, 'the paused message to be in delivery', 15_000)
  first.child.kill('SIGKILL')
  await first.exited

  answering = true
  fa.restoreKey() // the new process pauses for nothing: any "paused" message it delivers is the old one
  const started = Date.now()
  const second = await spawnBridge(env)
  t.after(async () => { second.child.kill('SIGTERM'); await second.exited })
  const oldOwner = `/${first.child.pid}/digest-`
  await waitFor(() => received.some(b => b.includes(oldOwner) && b.includes('"kind":"paused"')), 'the killed process\'s message delivered by the restarted one', 20_000, 50)
  assert.ok(Date.now() - started < 20_000, 'within seconds, not after the 120 s lease')
  assert.ok(second.logs.some(l => l.includes('took back operator messages leased by a bridge process that died')))
})
