import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBackupSpec, runBackup } from '../../src/backup/index.js';
import { encodeBlob } from '../../src/format/index.js';
import {
  type Clock,
  type Digest,
  digestOf,
  parseAuthId,
  parseGroup,
  ROOT_NAMESPACE,
} from '../../src/model/index.js';
import { ChunkStore, Datastore, garbageCollect, verifyDatastore } from '../../src/store/index.js';
import { seededBytes } from '../helpers/random.js';
import { log, makePool, tempDir } from '../helpers/world.js';

const HOUR = 3_600_000;

/** A clock the test moves by hand. */
function manualClock(start: number): Clock & { set(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    set: (ms) => {
      now = ms;
    },
  };
}

async function storeChunk(store: ChunkStore, seed: number): Promise<Digest> {
  const data = seededBytes(seed, 32 * 1024);
  const digest = digestOf(data);
  await store.insert(digest, encodeBlob(data), data.length);
  return digest;
}

test('gc removes unreferenced chunks past the cutoff and keeps referenced and recently used ones', async (t) => {
  const dir = await tempDir(t);
  const clock = manualClock(Date.UTC(2026, 0, 1));
  const ds = await Datastore.create(join(dir, 'store'), { clock });
  t.after(() => ds.close());
  const pool = makePool(t);
  await writeFile(join(dir, 'disk.raw'), seededBytes(1, 9 * 1024 * 1024));
  const backup = await runBackup(ds, {
    ns: ROOT_NAMESPACE,
    group: parseGroup('vm/1'),
    time: 1767225600,
    owner: parseAuthId('root@pam'),
    sources: [parseBackupSpec(`d.img:${join(dir, 'disk.raw')}`)],
    pool,
    log,
  });
  assert.equal(backup.total.chunks, 3);
  // The pool's workers stamp lastUsed with the real clock; unreferenced chunks get our clock's old times.
  const old = [await storeChunk(ds.chunks, 100), await storeChunk(ds.chunks, 101)];
  clock.set(Date.UTC(2026, 0, 2) + 12 * HOUR);
  const recent = await storeChunk(ds.chunks, 102);
  clock.set(Date.UTC(2026, 0, 3));

  const report = await garbageCollect(ds, { log, graceMs: 24 * HOUR });
  assert.equal(report.removedChunks, 2);
  assert.equal(report.pendingChunks, 1);
  for (const d of old) {
    assert.equal(ds.chunks.has(d), false);
    assert.equal(await ds.chunks.fileSize(d), undefined);
  }
  assert.ok(ds.chunks.has(recent) && (await ds.chunks.fileSize(recent)) !== undefined);
  const verify = await verifyDatastore(ds, { pool, log, taskId: 'test' });
  assert.deepEqual(verify.problems, [], 'every referenced chunk survived');
  assert.equal(verify.chunks, 3);
});

test('gc never removes a chunk inserted while it runs, in a shard swept before or after the insert', async (t) => {
  const dir = await tempDir(t);
  const ds = await Datastore.create(join(dir, 'store'));
  t.after(() => ds.close());
  // Unreferenced chunks from long ago, in many shards, so the sweep has work everywhere.
  const past = manualClock(Date.now() - 48 * HOUR);
  const oldStore = ChunkStore.open(ds.layout, past);
  t.after(() => oldStore.close());
  for (let i = 0; i < 300; i++) await storeChunk(oldStore, 1000 + i);
  // A second handle (as another thread would have) inserts while GC sweeps.
  const other = ChunkStore.open(ds.layout, { now: () => Date.now() });
  t.after(() => other.close());
  const inserted: Digest[] = [];
  let seed = 5000;
  const report = await garbageCollect(ds, {
    log,
    graceMs: 0,
    onProgress: async (event) => {
      if (event.phase === 'marked' || event.shard % 16 === 0) {
        for (let i = 0; i < 4; i++) inserted.push(await storeChunk(other, seed++));
      }
    },
  });
  assert.equal(report.removedChunks, 300, 'the old unreferenced chunks went');
  assert.ok(inserted.length >= 60);
  for (const digest of inserted) {
    assert.ok(ds.chunks.has(digest), `chunk ${digest.slice(0, 8)} inserted during gc is still indexed`);
    assert.ok(
      (await ds.chunks.fileSize(digest)) !== undefined,
      `chunk ${digest.slice(0, 8)} inserted during gc is still on disk`,
    );
  }
});

test('gc refuses to start while another gc holds the datastore', async (t) => {
  const dir = await tempDir(t);
  const ds = await Datastore.create(join(dir, 'store'));
  t.after(() => ds.close());
  let second: Promise<unknown> | undefined;
  await garbageCollect(ds, {
    log,
    onProgress: (event) => {
      if (event.phase === 'marked') second = garbageCollect(ds, { log }).catch((err: unknown) => err);
    },
  });
  const err = await second;
  assert.ok(err instanceof Error && /garbage collection is locked by another task/.test(err.message));
});
