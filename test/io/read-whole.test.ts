import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ChunkBuffers, readWhole } from '../../src/io/index.js';
import { seededBytes } from '../helpers/random.js';

test('readWhole reads into memory lent by ChunkBuffers, which a later read reuses once given back', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-read-whole-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const a = seededBytes(1, 3 * 1024 * 1024);
  const b = seededBytes(2, 2 * 1024 * 1024 + 7);
  await writeFile(join(dir, 'a'), a);
  await writeFile(join(dir, 'b'), b);
  const buffers = new ChunkBuffers(1);

  const first = await readWhole(join(dir, 'a'), buffers);
  assert.ok(first.equals(a));
  assert.equal(buffers.inUse, 1);
  buffers.give(first);
  const second = await readWhole(join(dir, 'b'), buffers);
  assert.ok(second.equals(b));
  assert.equal(second.buffer, first.buffer, 'the given-back memory holds the next file');
  buffers.release(second);
  assert.equal(buffers.inUse, 0);
  const third = await readWhole(join(dir, 'a'), buffers);
  assert.notEqual(third.buffer, second.buffer, 'released memory is never reused');
  assert.ok(third.equals(a) && second.equals(b));

  await assert.rejects(readWhole(join(dir, 'missing'), buffers), { code: 'ENOENT' });
  assert.equal(buffers.inUse, 1, 'a failed open takes nothing');
});
