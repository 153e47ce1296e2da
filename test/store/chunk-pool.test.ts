import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isFerryError } from '../../src/errors/index.js';
import { encodeBlob } from '../../src/format/index.js';
import { BufferRecycler } from '../../src/io/index.js';
import { type Digest, digestOf } from '../../src/model/index.js';
import { ChunkPool, Datastore } from '../../src/store/index.js';

const MIB = 1024 * 1024;

async function poolWorld(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-chunk-pool-'));
  const ds = await Datastore.create(join(dir, 'store'));
  const pool = new ChunkPool({ threads: 2 });
  t.after(async () => {
    await pool.close();
    await ds.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { ds, pool };
}

/** Compressible plain content of `size` bytes, different for each `seed`. */
function plainOf(size: number, seed: number): Buffer {
  const plain = Buffer.alloc(size);
  for (let i = 0; i < size; i += 64) plain.write(`${seed} line ${i} of a chunk that compresses\n`, i);
  return plain;
}

test('a lent upload buffer is stored from and comes back whole with the answer, to be taken again', async (t) => {
  const { ds, pool } = await poolWorld(t);
  const recycler = new BufferRecycler({ keep: 4 });
  const plain = plainOf(4 * MIB, 1);
  const encoded = encodeBlob(plain);
  const blob = recycler.take(encoded.length);
  encoded.copy(blob);
  assert.ok(recycler.owns(blob), 'a chunk-sized buffer from take is the recycler’s own');
  const capacity = blob.buffer.byteLength;

  const r = await pool.insert(ds.path, digestOf(plain), blob, 4 * MIB, { lend: true });
  assert.equal(r.isNew, true);
  assert.equal(blob.buffer.byteLength, 0, 'the whole buffer went to the chunk thread');
  assert.ok(r.data !== undefined, 'and came back');
  assert.equal(r.data.buffer.byteLength, capacity);
  assert.deepEqual(Buffer.from(r.data.buffer, 0, encoded.length), encoded, 'untouched by the store');
  assert.deepEqual(await readFile(ds.layout.chunkPath(digestOf(plain))), encoded);

  recycler.give(r.data);
  const next = recycler.take(MIB);
  assert.equal(next.buffer, r.data.buffer, 'the returned memory is used for the next upload');
  assert.ok(recycler.owns(next));

  // Not lent (the default): the answer carries no buffer; a small blob is never the recycler's to lend.
  const small = plainOf(1000, 2);
  const smallBlob = recycler.take(encodeBlob(small).length);
  assert.equal(recycler.owns(smallBlob), false);
  assert.equal(
    recycler.owns(next.subarray(4096)),
    false,
    'a view that does not start the buffer is not lent',
  );
  const plainInsert = await pool.insert(ds.path, digestOf(small), encodeBlob(small), MIB);
  assert.equal(plainInsert.data, undefined);

  // A lent blob that fails verification is refused with its typed error, and nothing is stored.
  const other = plainOf(MIB, 3);
  const wrong = recycler.take(encodeBlob(other).length);
  encodeBlob(other).copy(wrong);
  await assert.rejects(
    pool.insert(ds.path, digestOf(plainOf(MIB, 99)), wrong, 4 * MIB, { lend: true }),
    (e) => isFerryError(e, 'FERRY_ERR_DIGEST_MISMATCH'),
  );
  assert.equal(ds.chunks.has(digestOf(other)), false);
});

test('proofs are made on the threads: HMAC(nonce, plain) per stored chunk, nothing for a missing or damaged one', async (t) => {
  const { ds, pool } = await poolWorld(t);
  const plains = [plainOf(4 * MIB, 1), randomBytes(MIB), plainOf(2 * MIB, 3), plainOf(MIB, 4)];
  const digests = plains.map((p) => digestOf(p));
  for (const [i, p] of plains.entries())
    await pool.insert(ds.path, digests[i] as Digest, encodeBlob(p), 4 * MIB);
  await unlink(ds.layout.chunkPath(digests[2] as Digest));
  const damagedPath = ds.layout.chunkPath(digests[3] as Digest);
  const bytes = await readFile(damagedPath);
  bytes[20] = (bytes[20] as number) ^ 1;
  await writeFile(damagedPath, bytes);

  const nonce = randomBytes(32);
  const proofs = await pool.prove(ds.path, nonce, digests);
  assert.deepEqual(
    proofs[0],
    createHmac('sha256', nonce)
      .update(plains[0] as Buffer)
      .digest(),
  );
  assert.deepEqual(
    proofs[1],
    createHmac('sha256', nonce)
      .update(plains[1] as Buffer)
      .digest(),
  );
  assert.equal(proofs[2], undefined, 'missing');
  assert.equal(proofs[3], undefined, 'damaged');
});
