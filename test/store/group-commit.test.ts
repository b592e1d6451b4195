// The SQLite group commit's batching rule, against a committer that records the batches it is sent.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { BOOKKEEPING_WAIT_MS, createGroupCommit, NO_HURRY_WAIT_MS } from '../../src/store/sqlite/group-commit.js'
import type { CommitterEvents } from '../../src/store/sqlite/committers.js'
import type { WriteOp, WriterRequest } from '../../src/store/sqlite/operations.js'

/** `waits`: the group commit's, unless a test lengthens them so that only company can send a batch before them. */
interface World { gc: ReturnType<typeof createGroupCommit>, batches: Array<{ ops: string[], sentAt: number }> }

function world (waits?: { bookkeepingMs: number, noHurryMs: number }): World {
  const batches: Array<{ ops: string[], sentAt: number }> = []
  const gc = createGroupCommit({
    now: () => Date.now(),
    onWake: () => {},
    waits,
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

// Bookkeeping (committed without the fsync) and a write that needs it (a step's in-flight marker). A transition is
// bookkeeping in no hurry (its slot is free already), as is a claim made ahead; a claim for an idle slot is not.
const finish = { op: 'finish' } as unknown as WriteOp
const claim = { op: 'claim' } as unknown as WriteOp
const claimAhead = { op: 'claim', ahead: true } as unknown as WriteOp
const marker = { op: 'stepStart' } as unknown as WriteOp

test('bookkeeping alone waits a moment for a write that needs the fsync and shares its transaction', async () => {
  const { gc, batches } = world()
  const done = [gc.write(finish as never), gc.write(claim as never)]
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(batches.length, 0, 'not sent at once')
  await Promise.all([...done, gc.write(marker as never)])
  assert.deepEqual(batches.map(b => b.ops), [['finish', 'claim', 'stepStart']])
})

test('bookkeeping with no company goes after its wait; a write that needs the fsync never waits', async () => {
  const { gc, batches } = world()
  for (const [op, wait] of [[claim, BOOKKEEPING_WAIT_MS], [finish, NO_HURRY_WAIT_MS], [claimAhead, NO_HURRY_WAIT_MS]] as const) {
    const t0 = performance.now()
    await gc.write(op as never)
    const waited = batches.at(-1)!.sentAt - t0
    // libuv's timers count whole milliseconds from the loop's cached time: a 1 ms wait may measure a little less.
    assert.ok(waited >= Math.max(wait - 1, wait / 2), `${JSON.stringify(op)} sent after ${waited} ms: it waited its ${wait} ms`)
  }
  const sent = gc.write(marker as never)
  await new Promise(resolve => setImmediate(resolve)) // the turn after the write: no timer has run yet
  assert.deepEqual(batches.map(b => b.ops), [['claim'], ['finish'], ['claim'], ['stepStart']], 'the marker went at once')
  await sent
})

test('a transition or a claim made ahead waits longer than a claim for an idle slot, and goes with it', async () => {
  const { gc, batches } = world({ bookkeepingMs: 1, noHurryMs: 60_000 })
  const waiting = [gc.write(finish as never), gc.write(claimAhead as never)]
  await sleep(50)
  assert.equal(batches.length, 0, 'the transition and the claim made ahead still wait')
  await Promise.all([...waiting, gc.write(claim as never)])
  assert.deepEqual(batches.map(b => b.ops), [['finish', 'claim', 'claim']], 'sent with the claim for an idle slot, in one batch')
  const slow = world({ bookkeepingMs: 60_000, noHurryMs: 60_000 })
  const done = slow.gc.write(finish as never)
  await sleep(50)
  assert.equal(slow.batches.length, 0)
  await Promise.all([done, slow.gc.write(marker as never)])
  assert.deepEqual(slow.batches.map(b => b.ops), [['finish', 'stepStart']], 'and with a marker at once')
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
