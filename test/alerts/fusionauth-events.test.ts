import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FUSIONAUTH_EVENTS } from '../../src/alerts/fusionauth-events.js'
import { FUSIONAUTH_EVENT_TYPE_NAMES } from '../fakes/fusionauth-webhooks.js'

test('every event the bridge listens to is one FusionAuth sends (its EventType list): the register command enables exactly these', () => {
  const known = new Set(FUSIONAUTH_EVENT_TYPE_NAMES)
  assert.ok(known.size > 50, 'the list comes from @fusionauth/typescript-client')
  for (const e of FUSIONAUTH_EVENTS) assert.ok(known.has(e.type), `${e.type} is not a FusionAuth event type: FusionAuth would refuse a webhook or tenant that enables it`)
  assert.equal(new Set(FUSIONAUTH_EVENTS.map(e => e.type)).size, FUSIONAUTH_EVENTS.length, 'each once')
})
