/**
 * PBS's sync-job semantics, each shown on a local pull (the chain is the same for remote ends):
 * group filters, max-depth, namespace mapping, transfer-last, remove-vanished, owner and lock checks, verified-only,
 * and Ferry's own rule that a re-sync keeps local protection, notes and verify state.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatBackupTime, parseAuthId, parseGroup, parseNamespace } from '../../src/model/index.js';
import { type Datastore, verifyDatastore } from '../../src/store/index.js';
import { BASE_TIME, fillDatastore } from '../helpers/fixtures.js';
import { localPull, localSyncWorld } from '../helpers/local-sync.js';
import { log } from '../helpers/world.js';

async function groupsOf(ds: Datastore, ns = ''): Promise<string[]> {
  if (!(await ds.namespaceExists(parseNamespace(ns)))) return [];
  return (await ds.listGroups(parseNamespace(ns))).map((g) => `${g.group.type}/${g.group.id}`);
}

async function timesOf(ds: Datastore, group: string, ns = ''): Promise<number[]> {
  const snaps = await ds.listSnapshots(parseNamespace(ns), parseGroup(group));
  return snaps.filter((s) => s.finished).map((s) => (s.snapshot.time - BASE_TIME) / 3600);
}

test('group filters select groups as PBS does: any include, then any exclude', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, {
    groups: ['vm/100', 'vm/101', 'ct/200', 'host/web'],
    snapshots: 1,
    blocks: 1,
  });
  await localPull(w, { 'group-filter': ['type:vm', 'group:host/web', 'exclude:regex:^vm/10[1]'] });
  assert.deepEqual(await groupsOf(w.target), ['host/web', 'vm/100']);
});

test('max-depth and namespace mapping re-root the source tree under the target anchor', async (t) => {
  const w = await localSyncWorld(t);
  for (const ns of ['a', 'a/b', 'a/b/c'])
    await fillDatastore(w.source, w.pool, w.dir, { ns, groups: ['vm/1'], snapshots: 1, blocks: 1 });
  await w.target.ensureNamespace(parseNamespace('copy'));
  await localPull(w, { 'remote-ns': 'a', ns: 'copy', 'max-depth': 1 });
  assert.deepEqual(await groupsOf(w.target, 'copy'), ['vm/1']);
  assert.deepEqual(await groupsOf(w.target, 'copy/b'), ['vm/1']);
  assert.equal(
    await w.target.namespaceExists(parseNamespace('copy/b/c')),
    false,
    'depth 2 is beyond max-depth 1',
  );
  await localPull(w, { 'remote-ns': 'a', ns: 'copy' });
  assert.deepEqual(await groupsOf(w.target, 'copy/b/c'), ['vm/1']);
});

test('transfer-last takes the newest N; the newest synced snapshot is re-checked every run', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/1'], snapshots: 5, blocks: 1 });
  const { lines } = await localPull(w, { 'transfer-last': 2 });
  assert.deepEqual(await timesOf(w.target, 'vm/1'), [3, 4]);
  assert.ok(
    lines.some((l) => /skipped: 3 snapshot\(s\) .* - due to transfer-last/.test(l)),
    lines.join('\n'),
  );
  const again = await localPull(w, { 'transfer-last': 2 });
  assert.equal(again.summary.snapshots.unchanged, 1);
  assert.ok(
    again.lines.some((l) => /skipped: 4 snapshot\(s\) .* - already synced/.test(l)),
    again.lines.join('\n'),
  );
});

test('remove-vanished removes snapshots, groups and namespaces gone from the source, but never protected snapshots', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/1', 'vm/2'], snapshots: 3, blocks: 1 });
  await fillDatastore(w.source, w.pool, w.dir, { ns: 'old', groups: ['vm/9'], snapshots: 1, blocks: 1 });
  await localPull(w);
  // The source loses vm/1's first two snapshots, group vm/2 and namespace old.
  for (const time of [0, 1])
    await w.source.removeSnapshot(parseNamespace(''), {
      group: parseGroup('vm/1'),
      time: BASE_TIME + time * 3600,
    });
  await w.source.removeGroup(parseNamespace(''), parseGroup('vm/2'));
  await w.source.removeNamespace(parseNamespace('old'), { deleteGroups: true });
  await w.target.setProtected(parseNamespace(''), { group: parseGroup('vm/1'), time: BASE_TIME }, true);
  const without = await localPull(w);
  assert.deepEqual(await timesOf(w.target, 'vm/1'), [0, 1, 2], 'without remove-vanished nothing goes');
  assert.equal(without.summary.removed.snapshots, 0);
  const { summary } = await localPull(w, { 'remove-vanished': true });
  assert.deepEqual(await timesOf(w.target, 'vm/1'), [0, 2], 'the protected snapshot stays');
  assert.deepEqual(await groupsOf(w.target), ['vm/1']);
  assert.equal(await w.target.namespaceExists(parseNamespace('old')), false);
  assert.deepEqual(summary.removed, { snapshots: 4, groups: 1, namespaces: 1 });
});

test('a group owned by someone else on the target fails with the owner check; a locked group fails at once; others go on', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/1', 'vm/2', 'vm/3'], snapshots: 1, blocks: 1 });
  await w.target.ensureGroup(parseNamespace(''), parseGroup('vm/1'), parseAuthId('alice@pbs'));
  const lock = await w.target.lockGroup(parseNamespace(''), parseGroup('vm/2'));
  t.after(() => lock.release());
  const { summary } = await localPull(w, { 'worker-threads': 2 });
  assert.equal(summary.groups.ok, 1);
  assert.equal(summary.groups.failed, 2);
  const errors = Object.fromEntries(summary.failed.map((f) => [f.group, f.error]));
  assert.equal(errors['vm/1'], 'group vm/1: owner check failed (alice@pbs != root@pam)');
  assert.equal(errors['vm/2'], 'group vm/2: group vm/2 is locked by another task');
  assert.deepEqual(await timesOf(w.target, 'vm/3'), [0]);
});

test('verified-only syncs only snapshots whose verification passed', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/1'], snapshots: 3, blocks: 1 });
  await verifyDatastore(w.source, {
    pool: w.pool,
    log,
    taskId: 'v',
    snapshot: { group: parseGroup('vm/1'), time: BASE_TIME + 3600 },
  });
  const { lines } = await localPull(w, { 'verified-only': true });
  assert.deepEqual(await timesOf(w.target, 'vm/1'), [1]);
  assert.ok(lines.some((l) => /skipped: 2 snapshot\(s\) .* - not verified/.test(l)));
});

test('a re-sync keeps local protection, notes and verify state (PBS overwrites them)', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/1'], snapshots: 1, blocks: 1 });
  await localPull(w);
  const snap = { group: parseGroup('vm/1'), time: BASE_TIME };
  await w.target.setProtected(parseNamespace(''), snap, true);
  await w.target.updateManifestUnprotected(parseNamespace(''), snap, { notes: 'kept locally' });
  await verifyDatastore(w.target, { pool: w.pool, log, taskId: 'local-verify' });
  await writeFile(join(w.target.layout.groupPath(parseNamespace(''), snap.group), 'notes'), 'group notes');
  const { summary } = await localPull(w);
  assert.equal(summary.snapshots.unchanged, 1);
  const manifest = await w.target.readManifest(parseNamespace(''), snap);
  assert.equal(manifest.unprotected['notes'], 'kept locally');
  assert.deepEqual(manifest.unprotected['verify_state'], { state: 'ok', upid: 'local-verify' });
  assert.ok(await w.target.isProtected(parseNamespace(''), snap));
  assert.equal(await w.target.readNotes(parseNamespace(''), snap.group), 'group notes');
});

test('a snapshot whose content differs from the local copy is refused, not overwritten', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/1'], snapshots: 1, blocks: 1 });
  // The target holds a different snapshot at the same time (same group, other data).
  await fillDatastore(w.target, w.pool, w.dir, { groups: ['vm/1'], snapshots: 1, blocks: 2 });
  const { summary } = await localPull(w);
  assert.equal(summary.groups.failed, 1);
  assert.equal(
    summary.failed[0]?.error,
    `group vm/1: snapshot ${formatBackupTime(BASE_TIME)}: refusing to overwrite local snapshot: content differs from source`,
  );
});

test('resync-corrupt pulls again a local snapshot whose verification failed, and it verifies afterwards', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/1'], snapshots: 2, blocks: 2 });
  await localPull(w);
  const snap = { group: parseGroup('vm/1'), time: BASE_TIME };
  const index = await w.target.readArchive(parseNamespace(''), snap, 'drive-scsi0.img.fidx' as never);
  const digest = index.subarray(4096, 4128).toString('hex');
  const { writeFile: write } = await import('node:fs/promises');
  await write(w.target.layout.chunkPath(digest as never), Buffer.from('garbage'));
  const damaged = await verifyDatastore(w.target, { pool: w.pool, log, taskId: 'v1' });
  assert.ok(damaged.problems.length > 0);
  const plain = await localPull(w);
  assert.equal(plain.summary.snapshots.synced, 0, 'without resync-corrupt the damaged copy stays');
  const { summary } = await localPull(w, { 'resync-corrupt': true });
  assert.equal(summary.groups.failed, 0, JSON.stringify(summary.failed));
  assert.ok(summary.snapshots.synced >= 1);
  const after = await verifyDatastore(w.target, { pool: w.pool, log, taskId: 'v2' });
  assert.deepEqual(after.problems, []);
});
