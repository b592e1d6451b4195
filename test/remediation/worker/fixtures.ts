// Shared by the worker's part tests: a real SQLite store on a temp file, real alerts in it, another
// connection that holds the write lock (the store fails for real), and the FusionAuth fake behind the real gateway.
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { BreachAlert } from '../../../src/alerts/types.js'
import { classify } from '../../../src/intake/alert.js'
import { createSqliteStore, type SqliteStoreOptions } from '../../../src/store/sqlite/index.js'
import type { Store } from '../../../src/store/types.js'
import { createFusionAuthGateway, type FusionAuthGateway } from '../../../src/fusionauth/index.js'
import type { Job } from '../../../src/remediation/worker/job.js'
import { startFusionAuthFake, type FusionAuthFake } from '../../fakes/fusionauth.js'
import { tmpDir } from '../../helper.js'

export interface TempStore { store: Store, file: string, dir: string }

/**
 * A real SQLite store on a temp file, closed after the test. Commits run inline (no writer thread), and a
 * write waits only 20 ms for another connection's lock, so `holdWriteLock` makes writes fail at once.
 */
export function tempStore (t: TestContext, options: Partial<SqliteStoreOptions> = {}): TempStore {
  const dir = tmpDir(t, 'bridge-worker-')
  const file = join(dir, 'bridge.db')
  const store = createSqliteStore({ file, writer: 'inline', busyTimeoutMs: 20, pollMs: 50, ...options })
  t.after(() => store.close())
  return { store, file, dir }
}

/** An alert as Enzoic sends it, for `email`. */
export function alertFor (email: string, extra: Record<string, unknown> = {}): BreachAlert {
  const c = classify({ username: email, exposureID: `exp-${email}`, date: '2026-11-20T04:51:05Z', exposureDetails: { title: 'Example Forum', date: '2026-10-01T00:00:00Z' }, ...extra })
  assert.equal(c.kind, 'alert')
  return (c as { alert: BreachAlert }).alert
}

/** Stores an alert (queued, due now) and answers its id. */
export async function queued (store: Store, email: string, extra: Record<string, unknown> = {}): Promise<string> {
  return (await store.alerts.insert(alertFor(email, extra))).id
}

/** Claims the one due alert as `owner`, as the producer would, and answers it as a job. */
export async function claimOne (store: Store, owner = 'test-host/1/claimer', leaseMs = 60_000): Promise<Job> {
  const [c] = await store.queue.claim(owner, 1, leaseMs)
  assert.ok(c !== undefined, 'an alert was due')
  return { alert: c.alert, lease: c.lease, planned: c.planned, validUntil: Infinity }
}

/** Another connection's write transaction on the file: the store's writes fail until `release`. */
export function holdWriteLock (t: TestContext, file: string): { release (): void } {
  const other = new Database(file)
  other.exec('BEGIN IMMEDIATE')
  let held = true
  const release = (): void => {
    if (!held) return
    held = false
    other.exec('COMMIT')
    other.close()
  }
  t.after(release)
  return { release }
}

/** The FusionAuth fake and the real gateway to it, both closed after the test. */
export async function fusionAuth (t: TestContext, timeoutMs = 2000): Promise<{ fa: FusionAuthFake, gateway: FusionAuthGateway }> {
  const fa = await startFusionAuthFake()
  const gateway = createFusionAuthGateway({ url: fa.url, apiKey: fa.apiKey, timeoutMs })
  t.after(async () => {
    await gateway.close()
    await fa.close()
  })
  return { fa, gateway }
}

/** The captured JSON log lines, parsed. */
export const parsed = (lines: string[]): Array<Record<string, any>> => lines.map(l => JSON.parse(l) as Record<string, any>)

/** The parsed lines with this `msg` (exactly, or matching). */
export function linesWith (lines: string[], msg: string | RegExp): Array<Record<string, any>> {
  return parsed(lines).filter(l => typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg)))
}

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
