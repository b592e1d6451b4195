import { test } from 'node:test'
import assert from 'node:assert/strict'
import { wellFormedJson, wellFormedText } from '../../src/alerts/normalise.js'

test('wellFormedText: lone surrogates and U+0000 become U+FFFD; pairs and everything else are kept', () => {
  assert.equal(wellFormedText('a\u0000b\ud800c\udc00d'), 'a\ufffdb\ufffdc\ufffdd')
  assert.equal(wellFormedText('\ud83d\ude00 \u0001 \u202e x'), '\ud83d\ude00 \u0001 \u202e x', 'only what a store cannot hold is changed')
  assert.equal(wellFormedText('\ud83d'), '\ufffd', 'half a pair at the end')
})

test('wellFormedJson: every string and key at any depth, in place; a key that becomes __proto__ stays a key', () => {
  const value = JSON.parse('{"a\\u0000":["x\\ud800",{"__proto\\u0000__":1,"k":"\\u0000"}],"n":1,"b":null,"s":"ok"}')
  assert.equal(wellFormedJson(value), value, 'the same object, changed in place')
  assert.deepEqual(Object.keys(value), ['n', 'b', 's', 'a\ufffd'])
  assert.deepEqual(value['a\ufffd'][0], 'x\ufffd')
  assert.equal(Object.getPrototypeOf(value['a\ufffd'][1]), Object.prototype)
  assert.deepEqual(Object.keys(value['a\ufffd'][1]), ['k', '__proto\ufffd__'])
  assert.equal(wellFormedJson('\u0000'), '\ufffd')
  assert.equal(wellFormedJson(7), 7)
  // As deep as a 64 KiB body can nest (and deeper): no recursion to overflow.
  const depth = 100_000
  const deep = JSON.parse(`${'{"a":['.repeat(depth)}"\\u0000"${']}'.repeat(depth)}`)
  wellFormedJson(deep)
  let node = deep
  for (let i = 0; i < depth; i++) node = node.a[0]
  assert.equal(node, '\ufffd')
})
