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

test('a capacity below one is refused', () => {
  assert.throws(() => new ChunkBuffers(0), RangeError);
});
