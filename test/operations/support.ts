/** What the operations tests share: a bridge with alerts in it, and the store a command would open beside it. */
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { openStore } from '../../src/store/index.js'
import type { Store } from '../../src/store/types.js'
import { postAlert, startTestBridge, type TestBridge } from '../helper.js'

/** The bridge's database opened as a command opens it (role `command`), closed after the test. */
export async function commandStore (t: TestContext, bridge: TestBridge): Promise<Store> {
  const store = await openStore(bridge.config.database, { role: 'command' })
  t.after(() => store.close())
  return store
}

/** POSTs an alert and returns its id. */
export async function send (bridge: TestBridge, body: Record<string, unknown>): Promise<string> {
  const r = await postAlert(bridge.url, body)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body.alertId as string
}

/**
 * A bridge without FusionAuth: one breach alert (ruth@acme-corp.io) stays queued; three test alerts
 * (probe1..3@example.com) are stored done, outcome test.
 */
export async function bridgeWithAlerts (t: TestContext): Promise<{ bridge: TestBridge, store: Store, queued: string, tests: string[] }> {
  const bridge = await startTestBridge(t)
  const queued = await send(bridge, { username: 'ruth@acme-corp.io', exposureID: 'exp-q' })
  const tests: string[] = []
  for (const n of [1, 2, 3]) tests.push(await send(bridge, { username: `probe${n}@example.com`, exposureID: `exp-t${n}` }))
  return { bridge, store: await commandStore(t, bridge), queued, tests }
}

/** The longest prefix every id shares (time-ordered ids stored close together share one). */
export function commonPrefix (ids: readonly string[]): string {
  let prefix = ids[0] ?? ''
  while (!ids.every(id => id.startsWith(prefix))) prefix = prefix.slice(0, -1)
  return prefix
}
