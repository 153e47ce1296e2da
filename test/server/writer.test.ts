import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isFerryError } from '../../src/errors/index.js';
import { encodeBlob } from '../../src/format/index.js';
import {
  type Digest,
  digestOf,
  MANIFEST_NAME,
  parseGroup,
  parseNamespace,
  type SnapshotRef,
} from '../../src/model/index.js';
import { startServerWorld } from '../helpers/server.js';
import { BLOB_NAME, INDEX_NAME, writeTestSnapshot } from '../helpers/snapshots.js';
import { dynamicIndexOf, makeUpload } from '../helpers/uploads.js';

const T0 = Date.UTC(2026, 0, 1) / 1000;
const root = parseNamespace('');
const snap = (group: string, time: number): SnapshotRef => ({ group: parseGroup(group), time });
const code = (c: string) => (err: unknown) => {
  assert.ok(isFerryError(err), String(err));
  assert.equal(err.code, c, err.message);
  return true;
};

test('a pushed snapshot is published whole: files, chunks and manifest, and the group is the token’s', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const client = world.client(await world.token('push@pam!t', [['/datastore/store1', 'backup']]));
  const up = makeUpload({ seed: 1, count: 10 });
  const s = snap('vm/100', T0);
  const writer = await client.openWriter('store1', root, s);
  assert.equal(writer.previousTime, undefined);
  assert.deepEqual(
    await writer.known(up.chunks.map((c) => c.digest)),
    up.chunks.map(() => false),
  );
  const stats = await writer.uploadChunks(up.chunks);
  assert.deepEqual(stats, {
    chunks: 10,
    newChunks: 10,
    bytes: up.chunks.reduce((n, c) => n + c.blob.length, 0),
  });
  assert.deepEqual(
    await writer.known(up.chunks.map((c) => c.digest)),
    up.chunks.map(() => true),
  );
  await writer.uploadFile(INDEX_NAME, up.index);
  await writer.uploadFile(BLOB_NAME, up.blob);
  assert.equal(
    (await ds.listSnapshots(root, s.group)).filter((x) => x.finished).length,
    0,
    'nothing visible before finish',
  );
  await writer.finish(up.manifest(s));

  const [listed] = await client.listSnapshots('store1', root, s.group);
  assert.equal(listed?.inProgress, false);
  assert.deepEqual(await readFile(ds.layout.archivePath(root, s, INDEX_NAME)), up.index);
  assert.deepEqual(await readFile(ds.layout.archivePath(root, s, BLOB_NAME)), up.blob);
  assert.equal((await ds.readManifest(root, s)).files.length, 2);
  assert.equal(await ds.readOwner(root, s.group), 'push@pam!t');
  for (const c of up.chunks) assert.ok(ds.chunks.has(c.digest));
  await assert.rejects(writer.uploadFile(BLOB_NAME, up.blob), code('FERRY_ERR_NOT_FOUND'));
});

test('an incremental push reuses the previous snapshot’s chunks after downloading its index, and only those', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const prev = await writeTestSnapshot(ds, { group: 'vm/1', time: T0, chunks: 5, owner: 'push@pam!t' });
  const foreign = await writeTestSnapshot(ds, {
    group: 'vm/2',
    time: T0,
    chunks: 2,
    seed: 9,
    owner: 'push@pam!t',
  });
  const client = world.client(await world.token('push@pam!t', [['/', 'backup']]));
  const s = snap('vm/1', T0 + 3600);
  const writer = await client.openWriter('store1', root, s);
  assert.equal(writer.previousTime, T0);
  // The store has them, but this session may not reference them yet.
  assert.deepEqual(await writer.known([...prev.digests, ...foreign.digests]), [
    false,
    false,
    false,
    false,
    false,
    false,
    false,
  ]);
  assert.deepEqual(
    await writer.downloadPrevious(MANIFEST_NAME),
    await ds.readManifestBytes(root, prev.snapshot),
  );
  await writer.downloadPrevious(INDEX_NAME);
  assert.deepEqual(await writer.known([...prev.digests, ...foreign.digests]), [
    true,
    true,
    true,
    true,
    true,
    false,
    false,
  ]);

  const reuse = prev.digests.map((digest) => ({ digest, size: 4096 }));
  const up = makeUpload({ seed: 3, count: 2, reuse });
  await writer.uploadChunks(up.chunks);
  await writer.uploadFile(INDEX_NAME, up.index);
  await writer.uploadFile(BLOB_NAME, up.blob);
  await writer.finish(up.manifest(s));
  assert.equal((await ds.listGroups(root)).find((g) => g.group.id === '1')?.snapshotCount, 2);

  // An index naming a chunk the session never registered is refused, though the store has it.
  const next = await client.openWriter('store1', root, snap('vm/1', T0 + 7200));
  const sneaky = dynamicIndexOf([{ digest: foreign.digests[0] as Digest, size: 4096 }]);
  await assert.rejects(next.uploadFile(INDEX_NAME, sneaky), code('FERRY_ERR_CHUNK_NOT_ALLOWED'));
  await next.abort();
});

test('a chunk uploaded with a wrong digest is rejected and not stored', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const client = world.client(await world.token('push@pam!t', [['/', 'backup']]));
  const writer = await client.openWriter('store1', root, snap('vm/1', T0));
  const data = Buffer.from('the real bytes');
  const claimed = digestOf(Buffer.from('what the client claims'));
  await assert.rejects(writer.uploadChunks([{ digest: claimed, blob: encodeBlob(data) }]), (err) => {
    assert.ok(isFerryError(err, 'FERRY_ERR_DIGEST_MISMATCH'), String(err));
    assert.match(err.message, new RegExp(`chunk ${claimed.slice(0, 8)}: digest mismatch`));
    return true;
  });
  assert.equal(ds.chunks.has(claimed), false);
  assert.equal(await ds.chunks.fileSize(claimed), undefined);
  // Bad CRC and garbage are refused the same way.
  const good = encodeBlob(data);
  good[good.length - 1] = (good[good.length - 1] as number) ^ 1;
  await assert.rejects(
    writer.uploadChunks([{ digest: digestOf(data), blob: good }]),
    code('FERRY_ERR_BAD_CRC'),
  );
  await assert.rejects(
    writer.uploadChunks([{ digest: digestOf(data), blob: Buffer.from('garbage') }]),
    code('FERRY_ERR_TRUNCATED'),
  );
  assert.equal(ds.chunks.has(digestOf(data)), false);
  assert.deepEqual(await writer.known([claimed, digestOf(data)]), [false, false]);
});

test('the group lock, owner and time rules hold for writer sessions, and an abort frees the group', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  await writeTestSnapshot(ds, { group: 'vm/1', time: T0, chunks: 1, owner: 'push@pam!t' });
  await writeTestSnapshot(ds, { group: 'vm/2', time: T0, chunks: 1, owner: 'other@pam' });
  const client = world.client(await world.token('push@pam!t', [['/', 'backup']]));
  const admin = world.client(await world.token('admin@pam!t', [['/', 'admin']]));

  const first = await client.openWriter('store1', root, snap('vm/1', T0 + 60));
  await assert.rejects(client.openWriter('store1', root, snap('vm/1', T0 + 120)), (err) => {
    assert.ok(isFerryError(err, 'FERRY_ERR_LOCKED'));
    assert.match(err.message, /group vm\/1 is locked by another task/);
    return true;
  });
  await first.abort();
  const second = await client.openWriter('store1', root, snap('vm/1', T0 + 120));
  await second.abort();
  assert.equal(
    (await ds.listSnapshots(root, parseGroup('vm/1'))).length,
    1,
    'aborted sessions leave nothing',
  );

  await assert.rejects(client.openWriter('store1', root, snap('vm/1', T0)), code('FERRY_ERR_ALREADY_EXISTS'));
  await assert.rejects(
    client.openWriter('store1', root, snap('vm/1', T0 - 60)),
    code('FERRY_ERR_TIME_NOT_INCREASING'),
  );
  await assert.rejects(
    client.openWriter('store1', root, snap('vm/2', T0 + 60)),
    code('FERRY_ERR_OWNER_MISMATCH'),
  );
  await assert.rejects(
    client.openWriter('store1', root, snap('vm/3', T0), { owner: 'other@pam' as never }),
    code('FERRY_ERR_FORBIDDEN'),
  );
  const asOther = await admin.openWriter('store1', root, snap('vm/2', T0 + 60), {
    owner: 'other@pam' as never,
  });
  await asOther.abort();
  await assert.rejects(
    client.openWriter('store1', parseNamespace('nope'), snap('vm/1', T0 + 60)),
    code('FERRY_ERR_NOT_FOUND'),
  );
  assert.equal(await ds.groupExists(root, parseGroup('vm/3')), false);
});

test('finish refuses a manifest that does not match what was uploaded', async (t) => {
  const world = await startServerWorld(t);
  const client = world.client(await world.token('push@pam!t', [['/', 'backup']]));
  const s = snap('vm/1', T0);
  const up = makeUpload({ seed: 1, count: 3 });
  const writer = await client.openWriter('store1', root, s);
  await writer.uploadChunks(up.chunks);
  await writer.uploadFile(INDEX_NAME, up.index);
  await writer.uploadFile(BLOB_NAME, up.blob);
  await assert.rejects(writer.finish(up.manifest(snap('vm/1', T0 + 1))), code('FERRY_ERR_INVALID_VALUE'));
  await assert.rejects(
    writer.finish(up.manifest(s, { extraFile: 'other.blob' })),
    code('FERRY_ERR_NOT_FOUND'),
  );
  await assert.rejects(
    writer.finish(up.manifest(s, { csum: 'ab'.repeat(32) })),
    code('FERRY_ERR_CSUM_MISMATCH'),
  );
  await assert.rejects(
    writer.finish(up.manifest(s, { cryptMode: 'encrypt' })),
    code('FERRY_ERR_CRYPT_MODE_MISMATCH'),
  );
  await assert.rejects(writer.finish(Buffer.from('not a blob at all')), code('FERRY_ERR_BAD_MAGIC'));
  assert.equal((await client.listSnapshots('store1', root, s.group))[0]?.inProgress, true);
  await writer.finish(up.manifest(s));
  assert.equal((await client.listSnapshots('store1', root, s.group))[0]?.inProgress, false);
});

test('an index must agree with the chunks it references: crypt mode and length', async (t) => {
  const world = await startServerWorld(t);
  const client = world.client(await world.token('push@pam!t', [['/', 'backup']]));
  const up = makeUpload({ seed: 1, count: 2 });
  const writer = await client.openWriter('store1', root, snap('vm/1', T0));
  await writer.uploadChunks(up.chunks);
  await assert.rejects(
    writer.uploadFile(INDEX_NAME, up.index, { cryptMode: 'encrypt' }),
    code('FERRY_ERR_CRYPT_MODE_MISMATCH'),
  );
  const wrongLength = dynamicIndexOf(up.chunks.map((c) => ({ digest: c.digest, size: 4000 })));
  await assert.rejects(writer.uploadFile(INDEX_NAME, wrongLength), code('FERRY_ERR_SIZE_MISMATCH'));
  await assert.rejects(writer.uploadFile(INDEX_NAME, Buffer.from('short')), code('FERRY_ERR_TRUNCATED'));
  await assert.rejects(writer.uploadFile(MANIFEST_NAME, up.blob), code('FERRY_ERR_INVALID_VALUE'));
  await assert.rejects(
    writer.uploadFile(BLOB_NAME, Buffer.from('not a blob, no magic')),
    code('FERRY_ERR_BAD_MAGIC'),
  );
});

test('a writer session left idle is aborted: nothing visible, the group writable again', async (t) => {
  const world = await startServerWorld(t, { limits: { idleMs: 200 } });
  const ds = world.store('store1');
  const client = world.client(await world.token('push@pam!t', [['/', 'backup']]));
  const up = makeUpload({ seed: 1, count: 3 });
  const writer = await client.openWriter('store1', root, snap('vm/1', T0));
  await writer.uploadChunks(up.chunks);
  await writer.uploadFile(INDEX_NAME, up.index);
  let next: Awaited<ReturnType<typeof client.openWriter>> | undefined;
  for (let i = 0; i < 500 && next === undefined; i++) {
    next = await client.openWriter('store1', root, snap('vm/1', T0)).catch((err: unknown) => {
      if (!isFerryError(err, 'FERRY_ERR_LOCKED')) throw err;
      return undefined;
    });
    if (next === undefined) await sleep(20);
  }
  assert.ok(next, 'the group stayed locked');
  await assert.rejects(writer.uploadFile(BLOB_NAME, up.blob), code('FERRY_ERR_NOT_FOUND'));
  assert.deepEqual(
    (await ds.listSnapshots(root, parseGroup('vm/1'))).filter((s) => s.finished),
    [],
  );
  await next.uploadChunks(up.chunks);
  await next.uploadFile(INDEX_NAME, up.index);
  await next.uploadFile(BLOB_NAME, up.blob);
  await next.finish(up.manifest(snap('vm/1', T0)));
  assert.equal((await ds.listSnapshots(root, parseGroup('vm/1'))).length, 1);
});

test('open sessions are bounded per token and in total', async (t) => {
  const world = await startServerWorld(t, { limits: { maxSessions: 3, maxSessionsPerAuthId: 2 } });
  await writeTestSnapshot(world.store('store1'), { group: 'vm/1', time: T0, chunks: 1 });
  const a = world.client(await world.token('a@pam!t', [['/', 'reader']]), { retries: 0 });
  const b = world.client(await world.token('b@pam!t', [['/', 'reader']]), { retries: 0 });
  const g = parseGroup('vm/1');
  const r1 = await a.openReader('store1', root, g);
  await a.openReader('store1', root, g);
  await assert.rejects(a.openReader('store1', root, g), code('FERRY_ERR_BUSY'));
  await b.openReader('store1', root, g);
  await assert.rejects(b.openReader('store1', root, g), code('FERRY_ERR_BUSY'));
  await r1.close();
  await b.openReader('store1', root, g);
});

test('a writer that proves it holds chunks the store has may reference them without uploading; a wrong proof or nonce does not', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  // Another group (another owner) holds these chunks on the server.
  const other = makeUpload({ seed: 5, count: 4 });
  for (const c of other.chunks) await ds.chunks.insert(c.digest, c.blob, undefined);
  const client = world.client(await world.token('push@pam!t', [['/datastore/store1', 'backup']]));
  const writer = await client.openWriter('store1', root, snap('vm/300', T0));
  const digests = other.chunks.map((c) => c.digest);
  assert.deepEqual(
    await writer.known(digests),
    [false, false, false, false],
    'not referenceable on a digest alone',
  );
  const nonce = await writer.challenge();
  const { chunkProof } = await import('../../src/format/index.js');
  const proofs = other.chunks.map((c, i) => (i === 3 ? Buffer.alloc(32, 7) : chunkProof(nonce, c.blob)));
  assert.deepEqual(await writer.acceptProofs(nonce, digests, [...proofs.slice(0, 2), undefined, proofs[3]]), [
    true,
    true,
    false,
    false,
  ]);
  assert.deepEqual(await writer.known(digests), [true, true, false, false]);
  await assert.rejects(
    writer.acceptProofs(nonce, digests.slice(2), proofs.slice(2)),
    code('FERRY_ERR_INVALID_VALUE'),
  );
  await writer.abort();
});
