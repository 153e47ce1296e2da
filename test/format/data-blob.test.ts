import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { isFerryError } from '../../src/errors/index.js';
import {
  BLOB_HEADER_SIZE,
  checkBlob,
  chunkProof,
  crc32,
  decodeBlob,
  encodeBlob,
  encodeBlobInPlace,
  MAGIC,
  MAX_BLOB_SIZE,
  verifyChunk,
} from '../../src/format/index.js';
import { digestOf } from '../../src/model/index.js';

test('compressible data is stored zstd-compressed and round-trips', () => {
  const plain = Buffer.alloc(1 << 20, 'abc');
  const blob = encodeBlob(plain);
  assert.ok(MAGIC.compressedBlob.equals(blob.subarray(0, 8)));
  assert.ok(blob.length < plain.length / 10);
  assert.deepEqual(decodeBlob(blob), plain);
  assert.equal(checkBlob(blob), 'compressed');
});

test('incompressible data is stored uncompressed because compression would not make it smaller', () => {
  const plain = randomBytes(65536);
  const blob = encodeBlob(plain);
  assert.ok(MAGIC.uncompressedBlob.equals(blob.subarray(0, 8)));
  assert.equal(blob.length, plain.length + 12);
  assert.deepEqual(decodeBlob(blob), plain);
});

test('encodeBlobInPlace makes the same bytes as encodeBlob, in the memory it was given', () => {
  const cases = {
    compressible: Buffer.alloc(4 << 20, 'backup chunk '),
    random: randomBytes(4 << 20),
    empty: Buffer.alloc(0),
    tiny: Buffer.from('x'),
  };
  for (const [name, plain] of Object.entries(cases)) {
    const memory = Buffer.alloc(BLOB_HEADER_SIZE + plain.length + 100, 0xee);
    const framed = memory.subarray(0, BLOB_HEADER_SIZE + plain.length);
    plain.copy(framed, BLOB_HEADER_SIZE);
    const blob = encodeBlobInPlace(framed);
    assert.ok(blob.equals(encodeBlob(plain)), `${name}: same blob`);
    assert.equal(blob.buffer, memory.buffer, `${name}: a view of the given memory`);
    assert.equal(blob.byteOffset, memory.byteOffset, `${name}: from its start`);
    assert.equal(memory[framed.length], 0xee, `${name}: nothing written past the framed data`);
  }
  assert.throws(
    () => encodeBlobInPlace(Buffer.alloc(BLOB_HEADER_SIZE + MAX_BLOB_SIZE + 1)),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_TOO_LARGE'),
  );
});

test('a flipped bit fails the CRC check with FERRY_ERR_BAD_CRC', () => {
  const blob = encodeBlob(Buffer.from('hello world'));
  blob[20] = (blob[20] ?? 0) ^ 1;
  assert.throws(
    () => decodeBlob(blob),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_BAD_CRC'),
  );
});

test('wrong magic, truncation and zstd bombs are refused with typed errors', () => {
  const blob = encodeBlob(Buffer.alloc(4096, 1));
  const wrong = Buffer.from(blob);
  wrong[0] = 0;
  assert.throws(
    () => decodeBlob(wrong),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_BAD_MAGIC'),
  );
  assert.throws(
    () => decodeBlob(blob.subarray(0, 10)),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_TRUNCATED'),
  );
  const big = encodeBlob(Buffer.alloc(1 << 20));
  assert.throws(
    () => decodeBlob(big, 1000),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_TOO_LARGE'),
  );
});

test('verifyChunk checks the digest, the length and the crypt mode', () => {
  const plain = Buffer.alloc(5000, 7);
  const blob = encodeBlob(plain);
  assert.deepEqual(verifyChunk(blob, digestOf(plain), { expectedSize: 5000 }), {
    kind: 'compressed',
    plainSize: 5000,
  });
  assert.throws(
    () => verifyChunk(blob, digestOf(Buffer.alloc(5000, 8))),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_DIGEST_MISMATCH') && e.message === 'digest mismatch',
  );
  assert.throws(
    () => verifyChunk(blob, digestOf(plain), { expectedSize: 4999 }),
    (e: unknown) => isFerryError(e),
  );
  assert.throws(
    () => verifyChunk(blob, digestOf(plain), { encrypted: true }),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_CRYPT_MODE_MISMATCH'),
  );
});

test('encrypted blobs are recognised, CRC-checked and carried, never decoded', () => {
  const body = randomBytes(100);
  const blob = Buffer.alloc(12 + body.length);
  MAGIC.encryptedCompressedBlob.copy(blob, 0);
  body.copy(blob, 12);
  // CRC covers what follows the 44-byte encrypted header.
  blob.writeUInt32LE(crc32(blob.subarray(44)), 8);
  assert.equal(checkBlob(blob), 'encrypted-compressed');
  assert.deepEqual(verifyChunk(blob, digestOf(body), { encrypted: true }), {
    kind: 'encrypted-compressed',
    plainSize: undefined,
  });
  assert.throws(
    () => decodeBlob(blob),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_ENCRYPTED'),
  );
});

/** A compressed blob around `zstd` bytes, with a correct CRC (so only the zstd layer is wrong). */
function compressedBlob(zstd: Uint8Array): Buffer {
  const blob = Buffer.alloc(12 + zstd.length);
  MAGIC.compressedBlob.copy(blob, 0);
  Buffer.from(zstd).copy(blob, 12);
  blob.writeUInt32LE(crc32(blob.subarray(12)), 8);
  return blob;
}

test('verifyChunk decodes compressed chunks piece by piece: a 4 MiB chunk verifies, a changed byte of it does not', () => {
  // Text-like data several 256 KiB pieces long, with a pattern that differs in every piece.
  const plain = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < plain.length; i += 4) plain.writeUInt32LE((i * 2654435761) % 1000, i);
  const blob = encodeBlob(plain);
  assert.equal(checkBlob(blob), 'compressed');
  assert.deepEqual(verifyChunk(blob, digestOf(plain), { expectedSize: plain.length }), {
    kind: 'compressed',
    plainSize: plain.length,
  });
  const changed = Buffer.from(plain);
  changed[3 * 1024 * 1024 + 5] = 0xff; // in a late piece
  assert.throws(
    () => verifyChunk(blob, digestOf(changed), { expectedSize: plain.length }),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_DIGEST_MISMATCH'),
  );
});

test('verifyChunk refuses truncated, corrupt and oversized zstd data behind a valid CRC, with typed errors', () => {
  const plain = Buffer.alloc(1024 * 1024, 'abcdefgh');
  const zstd = encodeBlob(plain).subarray(12);
  const digest = digestOf(plain);
  assert.throws(
    () => verifyChunk(compressedBlob(zstd.subarray(0, zstd.length - 3)), digest),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_BAD_FORMAT'),
    'truncated',
  );
  const corrupt = Buffer.from(zstd);
  const at = Math.floor(corrupt.length / 2);
  corrupt[at] = (corrupt[at] ?? 0) ^ 0x5a;
  assert.throws(
    () => verifyChunk(compressedBlob(corrupt), digest),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_BAD_FORMAT') || isFerryError(e, 'FERRY_ERR_DIGEST_MISMATCH'),
    'corrupt',
  );
  assert.throws(
    () => verifyChunk(compressedBlob(zstd), digest, { expectedSize: 1000 }),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_TOO_LARGE'),
    'more than the index says',
  );
  // After all that, the same thread's decoder still verifies a good chunk.
  assert.equal(verifyChunk(compressedBlob(zstd), digest).plainSize, plain.length);
});

test('chunkProof is the HMAC of the plain bytes, however the chunk is stored, and of the blob when encrypted', () => {
  // Several 256 KiB decoding pieces long, so the compressed proof is made from many pieces.
  const plain = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < plain.length; i += 64)
    plain.write(`line ${i} of the chunk, text that compresses well\n`, i);
  const nonce = randomBytes(32);
  const expected = createHmac('sha256', nonce).update(plain).digest();
  const compressed = encodeBlob(plain);
  assert.equal(checkBlob(compressed), 'compressed');
  const uncompressed = encodeBlob(plain, { compress: false });
  assert.equal(checkBlob(uncompressed), 'uncompressed');
  assert.deepEqual(chunkProof(nonce, compressed), expected);
  assert.deepEqual(chunkProof(nonce, uncompressed), expected);
  // Another nonce, another proof; one changed byte of the content, another proof.
  assert.notDeepEqual(chunkProof(randomBytes(32), compressed), expected);
  const changed = Buffer.from(plain);
  changed[3 * 1024 * 1024 + 5] = (changed[3 * 1024 * 1024 + 5] as number) ^ 1;
  assert.notDeepEqual(chunkProof(nonce, encodeBlob(changed)), expected);
  // A damaged blob proves nothing: the CRC check throws.
  const damaged = Buffer.from(compressed);
  damaged[damaged.length - 1] = (damaged[damaged.length - 1] as number) ^ 1;
  assert.throws(
    () => chunkProof(nonce, damaged),
    (e: unknown) => isFerryError(e, 'FERRY_ERR_BAD_CRC'),
  );
  const encrypted = Buffer.alloc(44 + 100, 9);
  MAGIC.encryptedBlob.copy(encrypted, 0);
  encrypted.writeUInt32LE(crc32(encrypted.subarray(44)), 8);
  assert.deepEqual(chunkProof(nonce, encrypted), createHmac('sha256', nonce).update(encrypted).digest());
});
