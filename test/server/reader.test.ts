import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { isFerryError } from '../../src/errors/index.js';
import {
  decodeBlob,
  dynamicEntry,
  encodeBlob,
  encodeDynamicIndex,
  verifyChunk,
} from '../../src/format/index.js';
import {
  type ArchiveName,
  type Digest,
  digestOf,
  digestToBytes,
  MANIFEST_NAME,
  parseAuthId,
  parseGroup,
  parseNamespace,
} from '../../src/model/index.js';
import { AUTH_SCHEME, routePath } from '../../src/protocol/index.js';
import { SnapshotWriter } from '../../src/store/index.js';
import { startServerWorld } from '../helpers/server.js';
import { BLOB_NAME, INDEX_NAME, writeTestSnapshot } from '../helpers/snapshots.js';

const T0 = Date.UTC(2026, 0, 1) / 1000;
const root = parseNamespace('');

test('a reader session downloads a snapshot byte for byte and fetches every chunk its index references', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const fx = await writeTestSnapshot(ds, { group: 'vm/100', time: T0, chunks: 20, chunkSize: 8192 });
  const client = world.client(await world.token('r@pam!t', [['/datastore/store1', 'reader']]));
  const reader = await client.openReader('store1', root, parseGroup('vm/100'));
  for (const name of [MANIFEST_NAME, INDEX_NAME, BLOB_NAME]) {
    assert.deepEqual(
      await reader.download(T0, name),
      await readFile(ds.layout.archivePath(root, fx.snapshot, name)),
      name,
    );
  }
  const got = new Map<Digest, Buffer>();
  await reader.fetchChunks(fx.digests, (digest, blob) => {
    verifyChunk(blob, digest, { expectedSize: 8192 });
    got.set(digest, decodeBlob(blob));
  });
  assert.equal(got.size, 20);
  for (const [digest, plain] of fx.plain) assert.deepEqual(got.get(digest), plain);
  await reader.close();
  await assert.rejects(reader.download(T0, MANIFEST_NAME), (err) => isFerryError(err, 'FERRY_ERR_NOT_FOUND'));
});

test('fetching 1,000 chunks takes at most 20 HTTP requests in all', async (t) => {
  const world = await startServerWorld(t);
  const fx = await writeTestSnapshot(world.store('store1'), {
    group: 'vm/1',
    time: T0,
    chunks: 1000,
    chunkSize: 1024,
  });
  const client = world.client(await world.token('r@pam!t', [['/', 'reader']]));
  const before = world.server.stats().requests;
  const reader = await client.openReader('store1', root, parseGroup('vm/1'));
  await reader.download(T0, INDEX_NAME);
  let count = 0;
  await reader.fetchChunks(fx.digests, () => {
    count++;
  });
  await reader.close();
  const used = world.server.stats().requests - before;
  assert.equal(count, 1000);
  assert.ok(used <= 20, `${used} requests for 1,000 chunks`);
  t.diagnostic(`requests for 1,000 chunks (open, index, batches, close): ${used}`);
});

test('batches run at once on several connections', async (t) => {
  const world = await startServerWorld(t);
  const fx = await writeTestSnapshot(world.store('store1'), {
    group: 'vm/1',
    time: T0,
    chunks: 256,
    chunkSize: 1024,
  });
  const client = world.client(await world.token('r@pam!t', [['/', 'reader']]), { connections: 4 });
  const reader = await client.openReader('store1', root, parseGroup('vm/1'));
  await reader.download(T0, INDEX_NAME);
  let peak = 0;
  let first = true;
  await reader.fetchChunks(fx.digests, async () => {
    peak = Math.max(peak, world.server.stats().inFlight);
    if (!first) return;
    first = false;
    // Hold the first batch's stream until the server sees a second batch request (or give up after 10 s).
    for (let i = 0; i < 1000 && world.server.stats().inFlight < 2; i++) await sleep(10);
    peak = Math.max(peak, world.server.stats().inFlight);
  });
  assert.ok(peak >= 2, `at most ${peak} request(s) in flight at once`);
});

test('chunks over the batch byte budget are deferred by the server and fetched again', async (t) => {
  const world = await startServerWorld(t);
  const size = 4 * 1024 * 1024;
  const fx = await writeTestSnapshot(world.store('store1'), {
    group: 'vm/1',
    time: T0,
    chunks: 20,
    chunkSize: size,
  });
  const client = world.client(await world.token('r@pam!t', [['/', 'reader']]), { connections: 1 });
  const reader = await client.openReader('store1', root, parseGroup('vm/1'));
  await reader.download(T0, INDEX_NAME);
  const before = world.server.stats().requests;
  const got = new Set<Digest>();
  await reader.fetchChunks(fx.digests, (digest, blob) => {
    verifyChunk(blob, digest, { expectedSize: size });
    got.add(digest);
  });
  assert.equal(got.size, 20);
  assert.ok(world.server.stats().requests - before >= 2, 'one request cannot carry 80 MiB');
});

test('a chunk file that cannot be read fails the batch, first chunk or later, and the server goes on serving', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const fx = await writeTestSnapshot(ds, { group: 'vm/1', time: T0, chunks: 6, chunkSize: 64 * 1024 });
  const credentials = await world.token('r@pam!t', [['/', 'reader']]);
  const client = world.client(credentials, { connections: 1 });
  const reader = await client.openReader('store1', root, parseGroup('vm/1'));
  await reader.download(T0, INDEX_NAME);
  // The batch request as it goes over the wire, so the reply itself can be looked at.
  const raw = new Pool(world.server.url, { connect: { rejectUnauthorized: false } });
  t.after(() => raw.close());
  const batch = (digests: readonly Digest[]) =>
    raw.request({
      method: 'POST',
      path: routePath('readerChunks', { session: reader.id }),
      headers: {
        authorization: `${AUTH_SCHEME} ${credentials.authId}:${credentials.secret}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ digests }),
    });
  // A directory where a chunk file should be: it opens, and reading it fails with EISDIR (not "missing").
  for (const [at, bad] of [
    [0, fx.digests[0]],
    [3, fx.digests[3]],
  ] as [number, Digest][]) {
    const path = ds.chunks.layout.chunkPath(bad);
    const kept = await readFile(path);
    await unlink(path);
    await mkdir(path);
    const res = await batch(fx.digests);
    if (at === 0) {
      // Nothing was sent yet: a whole error reply, naming the chunk.
      assert.equal(res.statusCode, 500);
      const body = (await res.body.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'FERRY_ERR_IO');
      assert.ok(body.error.message.includes(`chunk ${bad.slice(0, 8)}`), body.error.message);
    } else {
      // Frames were on their way: the body is cut off, never ended as if it were whole.
      assert.equal(res.statusCode, 200);
      await assert.rejects(res.body.arrayBuffer());
    }
    const got: Digest[] = [];
    await assert.rejects(
      reader.fetchChunks(fx.digests, (digest) => {
        got.push(digest);
      }),
      (err: Error) => isFerryError(err, 'FERRY_ERR_IO') && err.message.includes(`chunk ${bad.slice(0, 8)}`),
    );
    assert.equal(got.includes(bad), false);
    await rm(path, { recursive: true });
    await writeFile(path, kept);
  }
  const all = new Set<Digest>();
  await reader.fetchChunks(fx.digests, (digest, blob) => {
    verifyChunk(blob, digest, { expectedSize: 64 * 1024 });
    all.add(digest);
  });
  assert.equal(all.size, 6);
});

test('a digest never unlocks a chunk that no index of the session references', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const mine = await writeTestSnapshot(ds, { group: 'vm/1', time: T0, chunks: 3, seed: 1 });
  const theirs = await writeTestSnapshot(ds, { group: 'vm/2', time: T0, chunks: 3, seed: 2 });
  const client = world.client(await world.token('r@pam!t', [['/', 'reader']]));
  const reader = await client.openReader('store1', root, parseGroup('vm/1'));
  const notAllowed = (err: unknown) => isFerryError(err, 'FERRY_ERR_CHUNK_NOT_ALLOWED');
  // Before the index is downloaded, not even this group's own chunks.
  await assert.rejects(
    reader.fetchChunks(mine.digests, () => undefined),
    notAllowed,
  );
  await assert.rejects(reader.proveChunks(randomBytes(16), mine.digests), notAllowed);
  await reader.download(T0, INDEX_NAME);
  let delivered = 0;
  await assert.rejects(
    reader.fetchChunks([...mine.digests, theirs.digests[0] as Digest], () => {
      delivered++;
    }),
    notAllowed,
  );
  assert.equal(delivered, 0, 'a batch with one unregistered digest sends nothing');
  await assert.rejects(reader.proveChunks(randomBytes(16), theirs.digests), notAllowed);
  // Another token cannot use this session.
  const other = world.client(await world.token('o@pam!t', [['/', 'reader']]));
  const otherReader = await other.openReader('store1', root, parseGroup('vm/1'));
  const stolen = Object.assign(Object.create(Object.getPrototypeOf(otherReader)), otherReader, {
    id: reader.id,
  });
  await assert.rejects(stolen.download(T0, INDEX_NAME), (err) => isFerryError(err, 'FERRY_ERR_NOT_FOUND'));
});

test('a token scoped to namespace a gets 403 for everything under namespace b, even knowing the digests', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const inA = await writeTestSnapshot(ds, { ns: 'a', group: 'vm/1', time: T0, chunks: 2, seed: 1 });
  const inB = await writeTestSnapshot(ds, { ns: 'b', group: 'vm/1', time: T0, chunks: 2, seed: 2 });
  await writeTestSnapshot(ds, { ns: 'b/deep', group: 'ct/5', time: T0, chunks: 1, seed: 3 });
  const client = world.client(await world.token('a@pam!t', [['/datastore/store1/a', 'reader']]));
  const b = parseNamespace('b');
  const forbidden = (err: unknown) => isFerryError(err, 'FERRY_ERR_FORBIDDEN');

  assert.deepEqual(await client.listNamespaces('store1'), ['', 'a']);
  await assert.rejects(client.listNamespaces('store1', { parent: b }), forbidden);
  await assert.rejects(client.listNamespaces('store1', { parent: parseNamespace('b/deep') }), forbidden);
  await assert.rejects(client.listGroups('store1', b), forbidden);
  await assert.rejects(client.listGroups('store1', root), forbidden);
  await assert.rejects(client.listSnapshots('store1', b), forbidden);
  await assert.rejects(client.listSnapshots('store1', b, parseGroup('vm/1')), forbidden);
  await assert.rejects(client.openReader('store1', b, parseGroup('vm/1')), forbidden);
  await assert.rejects(client.openReader('store1', parseNamespace('b/deep'), parseGroup('ct/5')), forbidden);
  await assert.rejects(client.deleteGroup('store1', b, parseGroup('vm/1')), forbidden);

  // A session in a, asking for b's chunks by digest and for proofs of them.
  const reader = await client.openReader('store1', parseNamespace('a'), parseGroup('vm/1'));
  await reader.download(T0, INDEX_NAME);
  await assert.rejects(
    reader.fetchChunks(inB.digests, () => undefined),
    (err) => isFerryError(err, 'FERRY_ERR_CHUNK_NOT_ALLOWED'),
  );
  await assert.rejects(reader.proveChunks(randomBytes(32), inB.digests), (err) =>
    isFerryError(err, 'FERRY_ERR_CHUNK_NOT_ALLOWED'),
  );
  let n = 0;
  await reader.fetchChunks(inA.digests, () => {
    n++;
  });
  assert.equal(n, 2);
  assert.deepEqual((await client.listSnapshots('store1', parseNamespace('a'))).length, 1);
});

test('proofs of possession answer HMAC(nonce, plain chunk) for registered chunks, and nothing for missing or damaged ones', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const fx = await writeTestSnapshot(ds, { group: 'vm/1', time: T0, chunks: 5 });
  const client = world.client(await world.token('r@pam!t', [['/', 'reader']]));
  const reader = await client.openReader('store1', root, parseGroup('vm/1'));
  await reader.download(T0, INDEX_NAME);
  const gone = fx.digests[4] as Digest;
  await unlink(ds.layout.chunkPath(gone));
  // A chunk whose file was damaged on disk (its last byte flipped: the CRC no longer holds) proves nothing either.
  const damaged = fx.digests[3] as Digest;
  const bytes = await readFile(ds.layout.chunkPath(damaged));
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
  await writeFile(ds.layout.chunkPath(damaged), bytes);
  const nonce = randomBytes(24);
  const proofs = await reader.proveChunks(nonce, fx.digests);
  for (const [i, digest] of fx.digests.entries()) {
    if (digest === gone || digest === damaged) {
      assert.equal(proofs[i], undefined, `no proof for chunk ${i}`);
      continue;
    }
    const expected = createHmac('sha256', nonce)
      .update(fx.plain.get(digest) as Buffer)
      .digest();
    assert.deepEqual(proofs[i], expected);
  }
  const again = await reader.proveChunks(randomBytes(16), fx.digests.slice(0, 1));
  assert.notDeepEqual(again[0], proofs[0], 'a fresh nonce gives a fresh proof');
  await assert.rejects(reader.proveChunks(randomBytes(8), fx.digests), (err) =>
    isFerryError(err, 'FERRY_ERR_INVALID_VALUE'),
  );
  // A missing chunk fails a fetch with not-found.
  await assert.rejects(
    reader.fetchChunks([gone], () => undefined),
    (err) => isFerryError(err, 'FERRY_ERR_NOT_FOUND'),
  );
});

test('a reader session on a missing group or snapshot is not found', async (t) => {
  const world = await startServerWorld(t);
  await writeTestSnapshot(world.store('store1'), { group: 'vm/1', time: T0, chunks: 1 });
  const client = world.client(await world.token('r@pam!t', [['/', 'reader']]));
  await assert.rejects(client.openReader('store1', root, parseGroup('vm/2')), (err) =>
    isFerryError(err, 'FERRY_ERR_NOT_FOUND'),
  );
  const reader = await client.openReader('store1', root, parseGroup('vm/1'));
  await assert.rejects(reader.download(T0 + 1, MANIFEST_NAME), (err) =>
    isFerryError(err, 'FERRY_ERR_NOT_FOUND'),
  );
  await assert.rejects(reader.download(T0, 'nope.blob'), (err) => isFerryError(err, 'FERRY_ERR_NOT_FOUND'));
});

test('a reader open sends the asked-for files along: they unlock their chunks and cost no download', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const fx = await writeTestSnapshot(ds, { group: 'vm/1', time: T0, chunks: 5, chunkSize: 4096 });
  const client = world.client(await world.token('r@pam!t', [['/', 'reader']]));
  const before = world.server.stats().requests;
  const reader = await client.openReader('store1', root, parseGroup('vm/1'), {
    time: T0,
    // A file the snapshot lacks and a name that is not a file name are left out; the open still succeeds.
    files: [MANIFEST_NAME, INDEX_NAME, 'missing.img.fidx', '../x', BLOB_NAME],
  });
  for (const name of [MANIFEST_NAME, INDEX_NAME, BLOB_NAME]) {
    assert.deepEqual(
      await reader.download(T0, name),
      await readFile(ds.layout.archivePath(root, fx.snapshot, name)),
      name,
    );
  }
  assert.equal(world.server.stats().requests - before, 1, 'the open alone');
  let count = 0;
  await reader.fetchChunks(fx.digests, () => {
    count++;
  });
  assert.equal(count, 5, 'the prefetched index registered its chunks');
  // Handed out once: asked again, a file is downloaded; one left out is downloaded and fails there, in its context.
  assert.deepEqual(
    await reader.download(T0, INDEX_NAME),
    await readFile(ds.layout.archivePath(root, fx.snapshot, INDEX_NAME)),
  );
  await assert.rejects(reader.download(T0, 'missing.img.fidx'), (err) =>
    isFerryError(err, 'FERRY_ERR_NOT_FOUND'),
  );
  await reader.close();
});

test('a reader open sends no files of an unfinished snapshot, nor past its byte budget', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const group = parseGroup('vm/1');
  // An index of 140,000 entries (one chunk over and over): 5.3 MiB, over the 4 MiB a reader open sends along.
  const data = Buffer.alloc(4096, 7);
  const digest = digestOf(data);
  await ds.chunks.insert(digest, encodeBlob(data), data.length);
  const entries = Buffer.concat(
    Array.from({ length: 140_000 }, (_, i) => dynamicEntry((i + 1) * data.length, digestToBytes(digest))),
  );
  const owner = parseAuthId('root@pam');
  const big = await SnapshotWriter.begin(ds, root, { group, time: T0 }, { owner, mode: 'sync' });
  await big.writeIndex(INDEX_NAME, encodeDynamicIndex({ ctime: T0, entries }));
  await big.commit();
  const unfinished = await SnapshotWriter.begin(ds, root, { group, time: T0 + 60 }, { owner, mode: 'sync' });
  await unfinished.writeIndex(
    INDEX_NAME,
    encodeDynamicIndex({ ctime: T0, entries: entries.subarray(0, 40) }),
  );
  const client = world.client(await world.token('r@pam!t', [['/', 'reader']]));
  const path = (name: string) => ds.layout.archivePath(root, { group, time: T0 }, name as ArchiveName);

  const before = world.server.stats().requests;
  const reader = await client.openReader('store1', root, group, {
    time: T0,
    files: [INDEX_NAME, MANIFEST_NAME],
  });
  assert.deepEqual(await reader.download(T0, MANIFEST_NAME), await readFile(path(MANIFEST_NAME)));
  assert.equal(world.server.stats().requests - before, 1, 'the manifest came with the open');
  assert.deepEqual(await reader.download(T0, INDEX_NAME), await readFile(path(INDEX_NAME)));
  assert.equal(world.server.stats().requests - before, 2, 'the index over the budget was downloaded');
  await reader.close();

  const early = await client.openReader('store1', root, group, { time: T0 + 60, files: [INDEX_NAME] });
  // Its writer still holds it: the open left the file out, and the download says why.
  await assert.rejects(early.download(T0 + 60, INDEX_NAME), (err) => isFerryError(err, 'FERRY_ERR_LOCKED'));
  await assert.rejects(
    early.fetchChunks([digest], () => undefined),
    (err) => isFerryError(err, 'FERRY_ERR_CHUNK_NOT_ALLOWED'),
    'nothing of the unfinished snapshot was registered',
  );
  await early.close();
  await unfinished.abort();
});
