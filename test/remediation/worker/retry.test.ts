import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_RETRY_AFTER_MS, nextAttemptIn, retryDelay } from '../../../src/remediation/worker/retry.js'

test('retryDelay: the n-th step of the schedule after n attempts, ±20 % by the random source, none past its end', () => {
  const schedule = [1000, 60_000]
  assert.equal(retryDelay(schedule, 1, () => 0.5), 1000)
  assert.equal(retryDelay(schedule, 1, () => 0), 800)
  assert.equal(retryDelay(schedule, 1, () => 1), 1200)
  assert.equal(retryDelay(schedule, 2, () => 0.5), 60_000)
  assert.equal(retryDelay(schedule, 3, () => 0.5), undefined)
  assert.equal(retryDelay([], 1, () => 0.5), undefined)
})

test('nextAttemptIn: FusionAuth\'s Retry-After is a floor, believed up to an hour; an exhausted schedule stays exhausted', () => {
  const schedule = [1000, 1000]
  assert.equal(nextAttemptIn(schedule, 1, () => 0.5), 1000, 'no Retry-After: the schedule')
  assert.equal(nextAttemptIn(schedule, 1, () => 0.5, 5000), 5000, 'asked for more: waits as asked')
  assert.equal(nextAttemptIn(schedule, 1, () => 0.5, 200), 1000, 'asked for less: the schedule')
  assert.equal(nextAttemptIn(schedule, 1, () => 0.5, 10 * MAX_RETRY_AFTER_MS), MAX_RETRY_AFTER_MS, 'asked for ten hours: an hour')
  assert.equal(nextAttemptIn(schedule, 2, () => 0, 0), 800)
  assert.equal(nextAttemptIn(schedule, 3, () => 0.5, 5000), undefined, 'Retry-After does not add attempts')
})
