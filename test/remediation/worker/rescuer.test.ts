import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { hostname } from 'node:os'
import { createRescuer, type Rescuer, type RescuerOptions } from '../../../src/remediation/worker/rescuer.js'
import type { Lease } from '../../../src/store/types.js'
import { captureLogger, waitFor } from '../../helper.js'
import { holdWriteLock, linesWith, queued, sleep, tempStore, type TempStore } from './fixtures.js'

const host = hostname()
const OWNER = `${host}/${process.pid}/rescuer0`

interface World extends TempStore {
  rescuer: Rescuer
  lines: string[]
  storeErrors: string[]
  /** The leases this "process" works on (the heartbeat's `held`). */
  leases: Lease[]
  renewals: string[][]
}

function world (t: TestContext, options: Partial<RescuerOptions> = {}): World {
  const at = tempStore(t)
  const leases: Lease[] = []
  const renewals: string[][] = []
  const { logger, lines } = captureLogger()
  const storeErrors: string[] = []
  const rescuer = createRescuer({
    owner: OWNER,
    leaseMs: 60_000,
    queue: at.store.queue,
    log: logger,
    held: () => leases,
    claiming: () => false,
    renewed: ids => renewals.push(ids),
    onStoreError: (_err, what) => storeErrors.push(what),
    ...options
  })
  t.after(() => rescuer.stopHeartbeat())
  return { ...at, rescuer, lines, storeErrors, leases, renewals }
}

/** The pid of a process that has just ended. */
async function deadPid (): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise(resolve => child.once('exit', resolve))
  return child.pid!
}

let alerts = 0
/** Stores a new alert and leases it to `owner`; answers its id. */
async function leasedTo (w: World, owner: string, leaseMs = 3_600_000): Promise<string> {
  const id = await queued(w.store, `user${++alerts}@acme-corp.io`)
  const [c] = await w.store.queue.claim(owner, 1, leaseMs)
  assert.equal(c?.alert.id, id)
  if (owner === OWNER) w.leases.push(c!.lease)
  return id
}

test('at start: the leases of bridge processes gone from this host are taken back; live ones, other hosts\' and our own are kept', async t => {
  const w = world(t)
  const gone = await deadPid()
  const owners = {
    ourPidBefore: `${host}/${process.pid}/0ld0ld00`, // a container restart: PID 1 again
    deadPid: `${host}/${gone}/deadbeef`,
    livePid: `${host}/${process.ppid}/alive000`,
    otherHost: `elsewhere.example/${gone}/remote00`,
    notAPid: `${host}/cli/operator`,
    ours: OWNER
  }
  const ids: Record<string, string> = {}
  for (const [name, owner] of Object.entries(owners)) ids[name] = await leasedTo(w, owner)
  await w.rescuer.releaseOrphanedLeases()

  for (const name of ['ourPidBefore', 'deadPid']) {
    const a = (await w.store.alerts.get(ids[name]!))!
    assert.deepEqual([name, a.state, a.leaseOwner, a.attempts], [name, 'retrying', undefined, 1], 'due now, the attempt counted')
    assert.ok((await w.store.alerts.events(a.id)).some(e => e.note === `released: lease holder ${owners[name as keyof typeof owners]} is gone`))
  }
  for (const name of ['livePid', 'otherHost', 'notAPid', 'ours']) {
    const a = (await w.store.alerts.get(ids[name]!))!
    assert.deepEqual([name, a.state, a.leaseOwner], [name, 'processing', owners[name as keyof typeof owners]])
  }
  assert.deepEqual(linesWith(w.lines, 'took back alerts leased by a bridge process that died').map(l => [l.level, l.previousOwner, l.alerts]).sort(),
    [[40, owners.deadPid, 1], [40, owners.ourPidBefore, 1]].sort())
  assert.deepEqual(w.storeErrors, [])
})

test('the heartbeat keeps this process\'s leases alive while it works, and lets them lapse when it holds none', async t => {
  let holding = true
  const leases: Lease[] = []
  const w = world(t, { leaseMs: 1000, held: () => holding ? leases : [] })
  const id = await leasedTo(w, OWNER, 1000)
  leases.push(...w.leases)
  w.rescuer.startHeartbeat()
  await sleep(2500)
  assert.deepEqual(await w.store.queue.claim('test-host/2/other', 1, 60_000), [], 'renewed: still ours after more than two leases')
  assert.equal((await w.store.alerts.get(id))!.leaseOwner, OWNER)
  holding = false
  const lapsed = await waitFor(async () => (await w.store.queue.claim('test-host/2/other', 1, 60_000))[0], 'the lease to lapse', 5000)
  assert.equal(lapsed.alert.id, id)
})

test('a renewal the store refuses is reported to the back-off', async t => {
  const w = world(t, { leaseMs: 300 })
  await leasedTo(w, OWNER, 300)
  holdWriteLock(t, w.file)
  w.rescuer.startHeartbeat()
  await waitFor(() => w.storeErrors.length > 0, 'a failed renewal')
  assert.ok(w.storeErrors.every(what => what === 'renewing leases'), w.storeErrors.join())
})

test('at shutdown: its leases are given back due now, the attempts not counted; others\' are kept', async t => {
  const w = world(t)
  const mine = [await leasedTo(w, OWNER), await leasedTo(w, OWNER)]
  const theirs = await leasedTo(w, 'test-host/2/other')
  await w.rescuer.releaseAtShutdown()
  for (const id of mine) {
    const a = (await w.store.alerts.get(id))!
    assert.deepEqual([a.state, a.attempts, a.leaseOwner], ['queued', 0, undefined])
    assert.ok((await w.store.alerts.events(id)).some(e => e.note === 'released at shutdown'))
  }
  assert.equal((await w.store.alerts.get(theirs))!.leaseOwner, 'test-host/2/other')
  assert.deepEqual(linesWith(w.lines, 'leases released').map(l => l.released), [2])
})

test('a store that fails at start or at shutdown: start tells the back-off, shutdown warns; neither throws', async t => {
  const w = world(t)
  await w.store.close()
  await w.rescuer.releaseOrphanedLeases()
  assert.deepEqual(w.storeErrors, ['looking for orphaned leases'])
  await w.rescuer.releaseAtShutdown()
  assert.equal(linesWith(w.lines, 'could not release leases at shutdown: they expire by themselves')[0]?.level, 40)
})

test('the heartbeat renews only the leases this process holds (alert and token); a stray claim of its owner is given back', async t => {
  const w = world(t, { leaseMs: 600 })
  const held = await leasedTo(w, OWNER, 600)
  // A claim that committed after the worker stopped waiting for it: leased to this owner, known to no job.
  const stray = await queued(w.store, 'stray@acme-corp.io')
  const [c] = await w.store.queue.claim(OWNER, 1, 600)
  assert.equal(c?.alert.id, stray)
  w.rescuer.startHeartbeat()
  await waitFor(() => w.renewals.length >= 2, 'two renewals')
  assert.deepEqual(w.renewals[0], [held], 'only the held lease is renewed')
  const a = (await w.store.alerts.get(stray))!
  assert.deepEqual([a.state, a.attempts, a.leaseOwner], ['queued', 0, undefined], 'the stray claim is given back at once, its attempt not counted')
  assert.ok((await w.store.alerts.events(stray)).some(e => e.note?.includes('its claim never reached the worker')))
  assert.equal((await w.store.alerts.get(held))!.leaseOwner, OWNER)
})
