// The SQLite statements keep the conventions sql.ts states for them. One of them is a performance rule no behaviour
// shows (the contract suite checks that every LIMIT still limits): a bare bound LIMIT (`LIMIT ?`, `LIMIT @limit`)
// makes SQLite 3.53 prepare the statement again on every run, because better-sqlite3 binds its parameters on every
// run and SQLite read that LIMIT's value when it planned. The claim used to spend most of its time there.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import * as SQL from '../../src/store/sqlite/sql.js'

const statements = Object.entries(SQL).map(([name, v]) => [name, typeof v === 'function' ? (v as (w: string) => string)('') : v] as const)

test('no SQLite statement binds a bare LIMIT: each is LIMIT CAST(? AS INTEGER) or a literal', () => {
  assert.ok(statements.length > 40, `read ${statements.length} statements`)
  const bare = statements.filter(([, sql]) => typeof sql === 'string' && /\bLIMIT\s+[?@:$]/i.test(sql)).map(([name]) => name)
  assert.deepEqual(bare, [])
  const cast = statements.filter(([, sql]) => typeof sql === 'string' && /\bLIMIT CAST\([?@]\w* AS INTEGER\)/.test(sql)).map(([name]) => name)
  assert.ok(cast.includes('CLAIM') && cast.includes('OUTBOX_CLAIM'), `the claims bind their LIMIT cast: ${cast.join(', ')}`)
})

test('the SQLite in use reads a CAST LIMIT per run: a smaller LIMIT bound to the same prepared statement takes fewer rows', () => {
  const db = new Database(':memory:')
  db.exec('CREATE TABLE t (n INTEGER)')
  const insert = db.prepare('INSERT INTO t (n) VALUES (?)')
  for (let i = 0; i < 5; i++) insert.run(i)
  const take = db.prepare('SELECT n FROM t ORDER BY n LIMIT CAST(@limit AS INTEGER)')
  assert.deepEqual([3, 1, 5, 0].map(limit => take.all({ limit }).length), [3, 1, 5, 0])
})
