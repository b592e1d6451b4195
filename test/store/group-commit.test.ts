// The SQLite group commit's batching rule, against a committer that records the batches it is sent.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { BOOKKEEPING_WAIT_MS, createGroupCommit } from '../../src/store/sqlite/group-commit.js'
import type { CommitterEvents } from '../../src/store/sqlite/committers.js'
import type { WriteOp, WriterRequest } from '../../src/store/sqlite/operations.js'

function world (): { gc: ReturnType<typeof createGroupCommit>, batches: Array<{ ops: string[], sentAt: number }> } {
  const batches: Array<{ ops: string[], sentAt: number }> = []
  const gc = createGroupCommit({
    now: () => Date.now(),
    onWake: () => {},
    committer: (events: CommitterEvents) => ({
      send (req: WriterRequest) {
        batches.push({ ops: req.ops.map(o => o.op), sentAt: performance.now() })
        // Commits on the next turn, as the writer thread answers.
        const results = req.ops.map(() => ({ ok: true as const, value: true }))
        setImmediate(() => events.settle({ seq: req.seq, seconds: 0, outcome: { results, wake: false, inserts: 0 } }))
      },
      close: async () => {}
    })
  })
  return { gc, batches }
}

// Bookkeeping (committed without the fsync) and a write that needs it (a step's in-flight marker).
const finish = { op: 'finish' } as unknown as WriteOp
const marker = { op: 'stepStart' } as unknown as WriteOp

test('bookkeeping alone waits a moment for a write that needs the fsync and shares its transaction', async () => {
  const { gc, batches } = world()
  const done = gc.write(finish as never)
  await sleep(0)
  assert.equal(batches.length, 0, 'not sent at once')
  await Promise.all([done, gc.write(marker as never)])
  assert.deepEqual(batches.map(b => b.ops), [['finish', 'stepStart']])
})

test('bookkeeping with no company goes after the wait; a write that needs the fsync never waits', async () => {
  const { gc, batches } = world()
  const t0 = performance.now()
  await gc.write(finish as never)
  assert.deepEqual(batches.map(b => b.ops), [['finish']])
  assert.ok(batches[0]!.sentAt - t0 >= BOOKKEEPING_WAIT_MS / 2, `sent after ${batches[0]!.sentAt - t0} ms: it waited`)
  const sent = gc.write(marker as never)
  await new Promise(resolve => setImmediate(resolve)) // the turn after the write: no timer has run yet
  assert.deepEqual(batches.map(b => b.ops), [['finish'], ['stepStart']], 'the marker went at once')
  await sent
})

test('close sends waiting bookkeeping at once and answers it', async () => {
  const { gc, batches } = world()
  const done = gc.write(finish as never)
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(batches.length, 0, 'waiting')
  const closed = gc.close()
  assert.deepEqual(batches.map(b => b.ops), [['finish']], 'sent by close, without waiting')
  await closed
  assert.equal(await done, true)
})
