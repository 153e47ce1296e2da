import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChunkBuffers } from '../../src/io/index.js';

const MIB = 1024 * 1024;

test('handOver gives a blob back when its consumer is done with it, and releases it when kept or on failure', async () => {
  const buffers = new ChunkBuffers(1);
  const a = await buffers.take(2 * MIB);
  await buffers.handOver(a, () => true);
  assert.equal(buffers.inUse, 0);
  const b = await buffers.take(MIB);
  assert.equal(b.buffer, a.buffer, 'given back: the next blob reuses its memory');

  await buffers.handOver(b, () => false);
  assert.equal(buffers.inUse, 0, 'kept by the consumer: no longer counted');
  const c = await buffers.take(MIB);
  assert.notEqual(c.buffer, b.buffer, 'kept memory is never handed out again');

  await assert.rejects(
    buffers.handOver(c, async () => {
      throw new Error('disk full');
    }),
    /disk full/,
  );
  assert.equal(buffers.inUse, 0, 'a failed consumer does not hold the slot');
  const d = await buffers.take(MIB);
  assert.notEqual(d.buffer, c.buffer, 'what a failed consumer had is not reused either');
});

test('a blob its consumer kept comes back through recycle, once, and never while it is still lent', async () => {
  const buffers = new ChunkBuffers(3);
  const a = await buffers.take(3 * MIB);
  let recycleA: (() => void) | undefined;
  await buffers.handOver(a, (_blob, recycle) => {
    recycle(); // still lent here: ignored (handOver settles it)
    recycleA = recycle;
    return false;
  });
  const b = await buffers.take(3 * MIB);
  assert.notEqual(b.buffer, a.buffer, 'kept, not yet recycled: not handed out');
  recycleA?.();
  recycleA?.(); // a second call changes nothing
  assert.equal(buffers.inUse, 1);
  const c = await buffers.take(MIB);
  assert.equal(c.buffer, a.buffer, 'recycled: the next blob reuses its memory');
  const c2 = await buffers.take(MIB);
  assert.notEqual(c2.buffer, a.buffer, 'recycled once: its memory is handed out once');
  const d = buffers.tryTake(MIB);
  assert.equal(d, undefined, 'recycling does not raise the capacity');
  await buffers.handOver(b, () => true);
  await buffers.handOver(c, () => true);
  await buffers.handOver(c2, () => true);
  const e = await buffers.take(MIB);
  const f = await buffers.take(MIB);
  const g = await buffers.take(MIB);
  assert.notEqual(e.buffer, f.buffer, 'no memory is handed out twice');
  assert.deepEqual(new Set([e.buffer, f.buffer, g.buffer]), new Set([a.buffer, b.buffer, c2.buffer]));
});

test('a capacity below one is refused', () => {
  assert.throws(() => new ChunkBuffers(0), RangeError);
});
