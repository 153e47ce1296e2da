import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFerryError } from '../../src/errors/index.js';
import { formatGroup, parseGroup, parseNamespace } from '../../src/model/index.js';
import { startServerWorld } from '../helpers/server.js';
import { BLOB_NAME, INDEX_NAME, writeTestSnapshot } from '../helpers/snapshots.js';

const T0 = Date.UTC(2026, 0, 1) / 1000;

test('version answers over HTTPS with a pinned certificate and names the product', async (t) => {
  const world = await startServerWorld(t);
  assert.match(world.server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.match(world.server.fingerprint ?? '', /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
  const client = world.client(await world.token('admin@pam!t', [['/', 'admin']]));
  const v = await client.version();
  assert.equal(v.product, 'ferry');
  assert.equal(v['api-version'], 1);
});

test('datastore, namespace, group and snapshot lists match what the datastores hold', async (t) => {
  const world = await startServerWorld(t, { stores: ['store1', 'store2'] });
  const ds = world.store('store1');
  await ds.ensureNamespace(parseNamespace('a/b'));
  await ds.ensureNamespace(parseNamespace('c'));
  await writeTestSnapshot(ds, { group: 'vm/100', time: T0, chunks: 3, owner: 'admin@pam!t' });
  await writeTestSnapshot(ds, { group: 'vm/100', time: T0 + 60, chunks: 4, seed: 2, owner: 'admin@pam!t' });
  await writeTestSnapshot(ds, { group: 'ct/7', time: T0, chunks: 1, owner: 'other@pam' });
  await writeTestSnapshot(ds, { ns: 'a/b', group: 'host/h1', time: T0, chunks: 2 });
  const client = world.client(await world.token('admin@pam!t', [['/', 'admin']]));

  assert.deepEqual(
    (await client.listDatastores()).map((d) => d.store),
    ['store1', 'store2'],
  );
  assert.deepEqual(await client.listNamespaces('store1'), ['', 'a', 'a/b', 'c']);
  assert.deepEqual(await client.listNamespaces('store1', { parent: parseNamespace('a') }), ['a', 'a/b']);
  assert.deepEqual(await client.listNamespaces('store1', { maxDepth: 1 }), ['', 'a', 'c']);

  const groups = await client.listGroups('store1', parseNamespace(''));
  const expected = await ds.listGroups(parseNamespace(''));
  assert.deepEqual(
    groups.map((g) => [formatGroup(g.group), g.owner, g.snapshotCount, g.lastSnapshot]),
    expected.map((g) => [formatGroup(g.group), g.owner, g.snapshotCount, g.lastSnapshot]),
  );
  assert.deepEqual(
    groups.map((g) => formatGroup(g.group)),
    ['ct/7', 'vm/100'],
  );

  const snaps = await client.listSnapshots('store1', parseNamespace(''), parseGroup('vm/100'));
  const local = await ds.listSnapshots(parseNamespace(''), parseGroup('vm/100'));
  assert.deepEqual(
    snaps.map((s) => [s.snapshot.time, s.size, s.inProgress, s.protected, s.files.map((f) => f.filename)]),
    local.map((s) => [s.snapshot.time, s.size, false, false, s.manifest?.files.map((f) => f.filename)]),
  );
  assert.deepEqual(snaps[0]?.files.map((f) => f.filename).sort(), [INDEX_NAME, BLOB_NAME].sort());
  const all = await client.listSnapshots('store1', parseNamespace(''));
  assert.equal(all.length, 3);
  assert.equal((await client.listSnapshots('store1', parseNamespace('a/b'))).length, 1);
});

test('snapshot lists flag in-progress snapshots, protection and verify state', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const root = parseNamespace('');
  const done = await writeTestSnapshot(ds, { group: 'vm/1', time: T0, chunks: 1 });
  await ds.setProtected(root, done.snapshot, true);
  await ds.updateManifestUnprotected(root, done.snapshot, { verify_state: { state: 'ok', upid: 'x' } });
  const { mkdir } = await import('node:fs/promises');
  await mkdir(ds.layout.snapshotPath(root, { group: parseGroup('vm/1'), time: T0 + 60 }));
  const client = world.client(await world.token('r@pam!t', [['/datastore/store1', 'reader']]));
  const snaps = await client.listSnapshots('store1', root, parseGroup('vm/1'));
  assert.equal(snaps.length, 2);
  assert.equal(snaps[0]?.protected, true);
  assert.equal(snaps[0]?.verifyState, 'ok');
  assert.equal(snaps[0]?.inProgress, false);
  assert.equal(snaps[1]?.inProgress, true);
  assert.equal(snaps[1]?.size, undefined);
});

test('namespaces are created and deleted through the API, with delete-groups and protected snapshots kept', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const client = world.client(await world.token('admin@pam!t', [['/', 'admin']]));
  await client.createNamespace('store1', parseNamespace('x'));
  await client.createNamespace('store1', parseNamespace('x/y'));
  assert.deepEqual(await ds.listNamespaces(), ['', 'x', 'x/y']);
  await assert.rejects(client.createNamespace('store1', parseNamespace('x')), (err) =>
    isFerryError(err, 'FERRY_ERR_ALREADY_EXISTS'),
  );
  await assert.rejects(client.createNamespace('store1', parseNamespace('nope/child')), (err) =>
    isFerryError(err, 'FERRY_ERR_NOT_FOUND'),
  );

  const kept = await writeTestSnapshot(ds, { ns: 'x/y', group: 'vm/1', time: T0, chunks: 1 });
  await ds.setProtected(parseNamespace('x/y'), kept.snapshot, true);
  await writeTestSnapshot(ds, { ns: 'x/y', group: 'vm/2', time: T0, chunks: 1 });
  await assert.rejects(client.deleteNamespace('store1', parseNamespace('x')), (err) =>
    isFerryError(err, 'FERRY_ERR_NOT_EMPTY'),
  );
  const r = await client.deleteNamespace('store1', parseNamespace('x'), { deleteGroups: true });
  assert.deepEqual(r, { removedGroups: 1, protectedKept: 1 });
  assert.deepEqual(await ds.listNamespaces(), ['', 'x', 'x/y']);
  assert.deepEqual(
    (await ds.listGroups(parseNamespace('x/y'))).map((g) => formatGroup(g.group)),
    ['vm/1'],
  );
});

test('groups and snapshots are deleted through the API; protected snapshots are kept', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const root = parseNamespace('');
  const client = world.client(await world.token('admin@pam!t', [['/', 'admin']]));
  const a = await writeTestSnapshot(ds, { group: 'vm/1', time: T0, chunks: 1 });
  await writeTestSnapshot(ds, { group: 'vm/1', time: T0 + 60, chunks: 1 });
  await writeTestSnapshot(ds, { group: 'vm/2', time: T0, chunks: 1 });
  await writeTestSnapshot(ds, { group: 'vm/3', time: T0, chunks: 1 });

  await client.deleteSnapshot('store1', root, { group: parseGroup('vm/2'), time: T0 });
  assert.deepEqual(await ds.listSnapshots(root, parseGroup('vm/2')), []);
  await assert.rejects(
    client.deleteSnapshot('store1', root, { group: parseGroup('vm/2'), time: T0 }),
    (err) => isFerryError(err, 'FERRY_ERR_NOT_FOUND'),
  );

  await ds.setProtected(root, a.snapshot, true);
  await assert.rejects(client.deleteSnapshot('store1', root, a.snapshot), (err) =>
    isFerryError(err, 'FERRY_ERR_PROTECTED'),
  );
  assert.deepEqual(await client.deleteGroup('store1', root, parseGroup('vm/1')), {
    removedSnapshots: 1,
    protectedKept: 1,
  });
  assert.deepEqual(
    (await client.listSnapshots('store1', root, parseGroup('vm/1'))).map((s) => s.snapshot.time),
    [T0],
  );
  assert.deepEqual(await client.deleteGroup('store1', root, parseGroup('vm/3')), {
    removedSnapshots: 1,
    protectedKept: 0,
  });
  assert.equal(await ds.groupExists(root, parseGroup('vm/3')), false);
  await assert.rejects(client.listSnapshots('store1', root, parseGroup('vm/3')), (err) =>
    isFerryError(err, 'FERRY_ERR_NOT_FOUND'),
  );
});

test('a missing datastore is not found, with the code and message the server sent', async (t) => {
  const world = await startServerWorld(t);
  const client = world.client(await world.token('admin@pam!t', [['/', 'admin']]));
  await assert.rejects(client.listGroups('nostore', parseNamespace('')), (err) => {
    assert.ok(isFerryError(err, 'FERRY_ERR_NOT_FOUND'));
    assert.equal(err.message, 'datastore nostore does not exist');
    assert.deepEqual(err.fields, { store: 'nostore' });
    return true;
  });
});
