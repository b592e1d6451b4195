// The non-dialect part of the store (src/store/shared/): one row mapper for both column-type adapters,
// the receipt in an alert's history, zero-filled counts, the summary projection, purge slicing, takeover.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rows as sqliteRows, type SqliteRow, type SqliteStepRow } from '../../src/store/sqlite/rows.js'
import { rows as postgresRows, type PgRow } from '../../src/store/postgres/rows.js'
import { countsByOutcome, countsByState, purgeInSlices, PURGE_SLICE, summaryOf } from '../../src/store/shared/alerts.js'
import { refusedTakeover } from '../../src/store/shared/queue.js'

const t0 = Date.parse('2026-03-01T10:00:00.000Z')
const users = [{ userId: 'u1', tenantId: 't1', verdict: 'actioned' }]
const actions = [{ at: '2026-03-01T10:00:01.000Z', action: 'deactivate', status: 'done' }]

/** One alert as a SQLite row: instants in ms, JSON as text, flags as 0/1. */
const sqliteRow: SqliteRow = {
  seq: 7,
  id: 'a1',
  test: 0,
  state: 'processing',
  received_at: t0,
  updated_at: t0 + 1000,
  exposure_id: 'e1',
  email: 'a@acme.io',
  username_hash: 'h',
  custom_data: null,
  exposure_date: null,
  had_password: 1,
  password_type: 1,
  password_type_name: 'MD5',
  exposure_details: JSON.stringify({ title: 'T' }),
  extra: null,
  warnings: null,
  source_ip: '203.0.113.9',
  source: 'enzoic',
  deliveries: 2,
  attempts: 1,
  due_at: t0 + 60_000,
  lease_owner: 'w1',
  lease_token: 3,
  outcome: null,
  users: JSON.stringify(users),
  actions: JSON.stringify(actions),
  last_error: null,
  completed_at: null,
  purged_at: null
}

/** The same alert as node-postgres returns it: Date, parsed jsonb, boolean, bigint as a string. */
const pgRow: PgRow = {
  ...sqliteRow,
  seq: '7',
  test: false,
  received_at: new Date(t0),
  updated_at: new Date(t0 + 1000),
  had_password: true,
  exposure_details: { title: 'T' },
  due_at: new Date(t0 + 60_000),
  users,
  actions,
  completed_at: null,
  purged_at: null
}

test('one mapper: a SQLite row and a PostgreSQL row of the same alert give the same record and lease', () => {
  const record = sqliteRows.record(sqliteRow)
  assert.deepEqual(postgresRows.record(pgRow), record)
  assert.equal(record.receivedAt, '2026-03-01T10:00:00.000Z')
  assert.equal(record.leaseUntil, '2026-03-01T10:01:00.000Z', 'a processing alert: due_at is its lease expiry')
  assert.equal(record.nextAttemptAt, undefined)
  assert.deepEqual(record.warnings, [], 'no warnings: an empty list')
  assert.equal(record.extra, undefined)
  assert.deepEqual(record.users, users)
  assert.equal(record.hadPassword, true)
  assert.deepEqual(sqliteRows.claimed(sqliteRow, false), { alert: record, lease: { alertId: 'a1', token: 3, owner: 'w1' }, planned: false })
  const queued = sqliteRows.record({ ...sqliteRow, state: 'queued' })
  assert.equal(queued.nextAttemptAt, '2026-03-01T10:01:00.000Z')
  assert.equal(queued.leaseOwner, undefined)
})

test('one mapper: steps, report entries and outbox items', () => {
  const stepRow: SqliteStepRow = {
    seq: 4,
    user_id: 'u1',
    tenant_id: null,
    email: 'a@acme.io',
    action: 'deactivate',
    phase: 'immediate',
    due_at: t0,
    state: 'done',
    detail: null,
    http_status: 200,
    result: JSON.stringify({ verdict: 'v' }),
    undo: null,
    updated_at: t0 + 5
  }
  const step = sqliteRows.step(stepRow)
  assert.deepEqual(step, {
    id: 4,
    userId: 'u1',
    tenantId: undefined,
    email: 'a@acme.io',
    action: 'deactivate',
    phase: 'immediate',
    dueAt: '2026-03-01T10:00:00.000Z',
    state: 'done',
    detail: undefined,
    httpStatus: 200,
    result: { verdict: 'v' },
    undo: undefined,
    startedAt: undefined,
    updatedAt: '2026-03-01T10:00:00.005Z'
  })
  assert.deepEqual(postgresRows.step({ ...stepRow, seq: '4', due_at: new Date(t0), started_at: null, result: { verdict: 'v' }, updated_at: new Date(t0 + 5) }), step)
  assert.deepEqual(sqliteRows.reportEntry({ ...stepRow, alert_id: 'a1', exposure_id: null, alert_source: 'fusionauth', received_at: t0 }),
    { step, alertId: 'a1', exposureId: undefined, source: 'fusionauth', receivedAt: '2026-03-01T10:00:00.000Z' })
  const item = { key: 'digest:1', kind: 'digest', attempts: 1, lease_owner: 'w', lease_token: 2 }
  const expected = { key: 'digest:1', kind: 'digest', payload: { n: 1 }, attempts: 1, createdAt: '2026-03-01T10:00:00.000Z', lease: { alertId: 'digest:1', token: 2, owner: 'w' } }
  assert.deepEqual(sqliteRows.outboxItem({ ...item, payload: '{"n":1}', created_at: t0 }), expected)
  assert.deepEqual(postgresRows.outboxItem({ ...item, payload: { n: 1 }, created_at: new Date(t0) }), expected)
})

test('history: the receipt is the row itself; a test alert is also done at once', () => {
  const events = [{ at: t0 + 10, state: 'processing' as const, note: 'attempt 1 by w' }, { at: t0 + 20, state: 'done' as const, note: null }]
  assert.deepEqual(sqliteRows.history({ seq: 1, received_at: t0, test: 0 }, events), [
    { at: '2026-03-01T10:00:00.000Z', state: 'queued', note: 'received' },
    { at: '2026-03-01T10:00:00.010Z', state: 'processing', note: 'attempt 1 by w' },
    { at: '2026-03-01T10:00:00.020Z', state: 'done', note: undefined }
  ])
  assert.deepEqual(postgresRows.history({ seq: '1', received_at: new Date(t0), test: true }, []), [
    { at: '2026-03-01T10:00:00.000Z', state: 'queued', note: 'received' },
    { at: '2026-03-01T10:00:00.000Z', state: 'done', note: 'test alert: no action' }
  ])
})

test('counts: every state zero-filled; outcomes without one count as none', () => {
  assert.deepEqual(countsByState([{ state: 'dead', n: 2 }]), { queued: 0, processing: 0, retrying: 0, waiting: 0, done: 0, dead: 2 })
  assert.deepEqual(countsByOutcome([{ outcome: 'actioned', n: 3 }, { outcome: null, n: 1 }]), { actioned: 3, none: 1 })
})

test('summary: the first alerts projected to what the digest shows', () => {
  const record = sqliteRows.record({ ...sqliteRow, state: 'done', outcome: 'actioned' })
  assert.deepEqual(summaryOf([{ outcome: 'actioned', n: 1 }], [record], { dead: 4, waiting: 5 }), {
    byOutcome: { actioned: 1 },
    alerts: [{ id: 'a1', outcome: 'actioned', state: 'done', email: 'a@acme.io', exposureId: 'e1', users }],
    dead: 4,
    waiting: 5
  })
})

test('purge: slices of PURGE_SLICE until one comes back short', async () => {
  const slices = [PURGE_SLICE, PURGE_SLICE, 3]
  const asked: number[] = []
  assert.deepEqual(await purgeInSlices(async limit => { asked.push(limit); return slices.shift()! }), { purged: 2 * PURGE_SLICE + 3 })
  assert.deepEqual(asked, [PURGE_SLICE, PURGE_SLICE, PURGE_SLICE])
  assert.deepEqual(await purgeInSlices(async () => 0), { purged: 0 })
})

test('takeover refused: busy when the alert exists, undefined when it does not', () => {
  assert.equal(refusedTakeover(true), 'busy')
  assert.equal(refusedTakeover(false), undefined)
})
