import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Chunker } from '../../src/format/index.js';
import { seededBytes } from '../helpers/random.js';

const SMALL = { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };

function chunkAll(data: Uint8Array, pieces: number, options = SMALL): number[] {
  const chunker = new Chunker(options);
  const ends: number[] = [];
  const step = Math.ceil(data.length / pieces);
  for (let off = 0; off < data.length; off += step) {
    for (const cut of chunker.scan(data.subarray(off, off + step))) ends.push(off + cut);
  }
  if (ends.at(-1) !== data.length) ends.push(data.length);
  return ends;
}

test('chunk boundaries do not depend on how the stream is split into reads', () => {
  const data = seededBytes(1, 8 * 1024 * 1024);
  assert.deepEqual(chunkAll(data, 1), chunkAll(data, 37));
});

test('chunks respect min and max and average near the target', () => {
  const data = seededBytes(2, 16 * 1024 * 1024);
  const ends = chunkAll(data, 1);
  const sizes = ends.map((e, i) => e - (i === 0 ? 0 : (ends[i - 1] as number)));
  for (const s of sizes.slice(0, -1)) assert.ok(s >= SMALL.min && s <= SMALL.max, `chunk of ${s} bytes`);
  const avg = data.length / sizes.length;
  assert.ok(avg > SMALL.avg * 0.6 && avg < SMALL.avg * 1.6, `average ${avg}`);
});

test('an insertion near the start changes only the chunks around it', () => {
  const data = seededBytes(3, 8 * 1024 * 1024);
  const shifted = Buffer.concat([
    data.subarray(0, 100000),
    Buffer.from('inserted bytes'),
    data.subarray(100000),
  ]);
  const a = new Set(chunkAll(data, 1).map((e) => e + 14));
  const b = chunkAll(shifted, 1);
  const same = b.filter((e) => a.has(e)).length;
  assert.ok(same >= b.length - 3, `${same} of ${b.length} boundaries survived`);
});

test('a run of zero bytes is cut at the maximum size', () => {
  const ends = chunkAll(new Uint8Array(1024 * 1024), 1);
  assert.equal(ends[0], SMALL.max);
});
