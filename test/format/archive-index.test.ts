import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { isFerryError } from '../../src/errors/index.js';
import {
  dynamicEntry,
  encodeDynamicIndex,
  encodeFixedIndex,
  parseDynamicIndex,
  parseFixedIndex,
} from '../../src/format/index.js';

function digests(n: number): Buffer {
  return Buffer.concat(
    Array.from({ length: n }, (_, i) => createHash('sha256').update(`chunk ${i}`).digest()),
  );
}

test('a fixed index round-trips and its csum is SHA-256 over the digests', () => {
  const d = digests(3);
  const size = 2 * 4194304 + 1000;
  const file = encodeFixedIndex({ ctime: 1700000000, size, digests: d });
  assert.equal(file.length, 4096 + 3 * 32);
  const index = parseFixedIndex(file);
  assert.equal(index.count, 3);
  assert.equal(index.size, size);
  assert.equal(index.chunkEnd(2) - index.chunkStart(2), 1000);
  assert.deepEqual(index.csum(), createHash('sha256').update(d).digest());
  assert.deepEqual(index.storedCsum, index.csum());
});

test('a fixed index whose entry count does not match its size is refused', () => {
  const file = encodeFixedIndex({ ctime: 0, size: 4194304 * 2, digests: digests(2) });
  assert.throws(
    () => parseFixedIndex(file.subarray(0, file.length - 32)),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_BAD_FORMAT'),
  );
  const absurd = Buffer.from(file);
  absurd.writeBigUInt64LE(2n ** 62n, 64);
  assert.throws(
    () => parseFixedIndex(absurd),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_BAD_FORMAT') && /absurd/.test(e.message),
  );
  const oddChunk = Buffer.from(file);
  oddChunk.writeBigUInt64LE(3000000n, 72);
  assert.throws(
    () => parseFixedIndex(oddChunk),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_BAD_FORMAT'),
  );
  assert.throws(
    () => parseFixedIndex(file.subarray(0, 100)),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_TRUNCATED'),
  );
});

test('a dynamic index round-trips; its csum covers end offsets and digests', () => {
  const d = digests(2);
  const body = Buffer.concat([dynamicEntry(1000, d.subarray(0, 32)), dynamicEntry(3000, d.subarray(32))]);
  const index = parseDynamicIndex(encodeDynamicIndex({ ctime: 5, entries: body }));
  assert.equal(index.count, 2);
  assert.equal(index.size, 3000);
  assert.equal(index.chunkStart(1), 1000);
  assert.equal(index.chunkEnd(1), 3000);
  assert.deepEqual(index.csum(), createHash('sha256').update(body).digest());
});

test('a dynamic index with non-increasing offsets or a partial entry is refused', () => {
  const d = digests(2);
  const body = Buffer.concat([dynamicEntry(3000, d.subarray(0, 32)), dynamicEntry(1000, d.subarray(32))]);
  const file = Buffer.concat([encodeDynamicIndex({ ctime: 0, entries: Buffer.alloc(0) }), body]);
  assert.throws(
    () => parseDynamicIndex(file),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_BAD_FORMAT') && /entry 1/.test(e.message),
  );
  assert.throws(
    () => parseDynamicIndex(file.subarray(0, file.length - 1)),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_BAD_FORMAT'),
  );
  const wrongMagic = Buffer.from(file);
  wrongMagic[3] = 0;
  assert.throws(
    () => parseDynamicIndex(wrongMagic),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_BAD_MAGIC'),
  );
});
