/**
 * `ferry datastore status` and `GET …/status`: what a datastore holds (namespaces, groups and snapshots per type)
 * and what it costs (the file system, the chunk store, the deduplication factor), counted from the datastore itself.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { FerryError } from '../../src/errors/index.js';
import type { DatastoreStatusData } from '../../src/protocol/index.js';
import { Datastore } from '../../src/store/index.js';
import { ferry, ferryJson } from '../helpers/cli.js';
import { fillDatastore } from '../helpers/fixtures.js';
import { startServerWorld } from '../helpers/server.js';
import { makePool, tempDir } from '../helpers/world.js';

const BLOCK = 4 * 1024 * 1024;
/** fillDatastore's images: 3 blocks, the last one 12345 bytes short, plus a small config blob. */
const IMAGE = 3 * BLOCK - 12345;

test('datastore status counts what the datastore holds and what it costs: snapshots per type, chunks from the index, the deduplication factor', async (t) => {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  await ferryJson(home, ['datastore', 'create', 'store', join(dir, 'store')]);
  const empty = await ferryJson<DatastoreStatusData>(home, ['datastore', 'status', 'store']);
  assert.deepEqual([empty.chunks, empty['logical-bytes'], empty['dedup-factor']], [0, 0, undefined]);

  const ds = await Datastore.open(join(dir, 'store'));
  const pool = makePool(t);
  // Two vm groups and a ct group, three snapshots each; the first two blocks shared by all, one changing block.
  await fillDatastore(ds, pool, dir, {
    groups: ['vm/100', 'vm/101', 'ct/200'],
    snapshots: 3,
    sharedBlocks: 2,
  });
  await fillDatastore(ds, pool, dir, { ns: 'site-b', groups: ['vm/300'], snapshots: 1, sharedBlocks: 2 });
  const indexed = [...ds.chunks.index.entries()];
  await ds.close();

  const s = await ferryJson<DatastoreStatusData>(home, ['datastore', 'status', 'store']);
  assert.equal(s.namespaces, 2);
  assert.deepEqual(s.counts, { ct: { groups: 1, snapshots: 3 }, vm: { groups: 3, snapshots: 7 } });
  assert.equal(s.chunks, indexed.length);
  assert.equal(
    s['chunk-bytes'],
    indexed.reduce((sum, [, e]) => sum + e.encodedSize, 0),
  );
  // Ten snapshots, each an image and a small blob: at least ten images' worth, held in far fewer chunks.
  assert.ok(
    s['logical-bytes'] >= 10 * IMAGE && s['logical-bytes'] < 10 * IMAGE + 10 * 4096,
    String(s['logical-bytes']),
  );
  assert.ok((s['dedup-factor'] ?? 0) > 2, `dedup factor ${s['dedup-factor']}`);
  assert.ok(s.total > 0 && s.avail > 0 && s.used > 0 && s.used <= s.total);
  const text = await ferry(home, ['datastore', 'status', 'store']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    /contents: +2 namespace\(s\); ct 1 group\(s\) \/ 3 snapshot\(s\), vm 3 group\(s\) \/ 7 snapshot\(s\)/,
  );
  assert.match(text.stdout, new RegExp(`chunks: +${indexed.length} \\(`));
  assert.match(text.stdout, /deduplication factor \d+\.\d\d/);

  // Offline: refused, as every read is.
  await ferryJson(home, ['datastore', 'update', 'store', '--maintenance-mode', 'offline']);
  const offline = await ferry(home, ['datastore', 'status', 'store']);
  assert.equal(offline.code, 11, offline.stderr);
});

test('GET …/status gives the same through the API, to a token with role reader on the whole datastore only', async (t) => {
  const w = await startServerWorld(t);
  await fillDatastore(w.store('store1'), makePool(t), w.dir, { groups: ['vm/100'], snapshots: 2 });
  const reader = w.client(await w.token('watch@pbs!t', [['/datastore/store1', 'reader']]));
  const s = await reader.datastoreStatus('store1');
  assert.deepEqual(s.counts, { vm: { groups: 1, snapshots: 2 } });
  assert.equal(s.chunks, [...w.store('store1').chunks.index.entries()].length);
  const narrow = w.client(await w.token('part@pbs!t', [['/datastore/store1/a', 'reader']]));
  await assert.rejects(narrow.datastoreStatus('store1'), (err: unknown) => {
    assert.ok(err instanceof FerryError && err.code === 'FERRY_ERR_FORBIDDEN', String(err));
    return true;
  });
});
