import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferRecycler } from '../../src/io/index.js';

const KIB = 1024;
const MIB = 1024 * KIB;

test('a buffer given back is taken again; small, oversized ones and those past `keep` are not kept', () => {
  const r = new BufferRecycler({ keep: 2 });
  const a = r.take(100 * KIB);
  assert.equal(a.length, 100 * KIB);
  const capacity = a.buffer.byteLength;
  assert.ok(capacity >= 4 * MIB + 12, 'a buffer holds a whole 4 MiB chunk blob');
  r.give(a);
  const b = r.take(4 * MIB);
  assert.equal(b.buffer, a.buffer, 'the freed memory is used again');
  assert.equal(b.length, 4 * MIB);

  const big = r.take(capacity + 1); // larger than a buffer: memory of its own, never kept
  assert.equal(big.length, capacity + 1);
  r.give(big);
  assert.notEqual(r.take(100 * KIB).buffer, big.buffer);

  const small = r.take(100); // from Node's shared pool, as ChunkBuffers does
  assert.notEqual(small.buffer.byteLength, capacity);
  r.give(small);
  assert.notEqual(r.take(100 * KIB).buffer, small.buffer);

  const c = r.take(100 * KIB);
  const d = r.take(100 * KIB);
  const e = r.take(100 * KIB);
  for (const x of [c, d, e]) r.give(x);
  const again = new Set([r.take(MIB).buffer, r.take(MIB).buffer, r.take(MIB).buffer]);
  assert.equal([c, d, e].filter((x) => again.has(x.buffer)).length, 2, 'keeps at most `keep` free buffers');
});
