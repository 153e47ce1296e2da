import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferRecycler } from '../../src/io/index.js';

test('a buffer given back is taken again; oversized ones and those past `keep` are not kept', () => {
  const r = new BufferRecycler({ keep: 2, capacity: 1024 });
  const a = r.take(100);
  assert.equal(a.length, 100);
  assert.equal(a.buffer.byteLength, 1024);
  r.give(a);
  const b = r.take(1000);
  assert.equal(b.buffer, a.buffer, 'the freed memory is used again');
  assert.equal(b.length, 1000);

  const big = r.take(2048); // larger than capacity: memory of its own, never kept
  assert.equal(big.length, 2048);
  r.give(big);
  assert.notEqual(r.take(10).buffer, big.buffer);

  const c = r.take(10);
  const d = r.take(10);
  const e = r.take(10);
  for (const x of [c, d, e]) r.give(x);
  const again = new Set([r.take(1).buffer, r.take(1).buffer, r.take(1).buffer]);
  assert.equal([c, d, e].filter((x) => again.has(x.buffer)).length, 2, 'keeps at most `keep` free buffers');
});
