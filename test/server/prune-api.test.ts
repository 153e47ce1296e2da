import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pool } from 'undici';
import { isFerryError } from '../../src/errors/index.js';
import { formatBackupTime, parseGroup, parseNamespace } from '../../src/model/index.js';
import { authorizationHeader, CONTENT_TYPE } from '../../src/protocol/index.js';
import { startServerWorld } from '../helpers/server.js';
import { writeTestSnapshot } from '../helpers/snapshots.js';

const T0 = Date.UTC(2026, 10, 1) / 1000;
const DAY = 86_400;
const root = parseNamespace('');
const vm = parseGroup('vm/100');

test('prune over the API: PBS keep options per group, dry run, protection, a held snapshot, roles and bad input', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  for (let i = 0; i < 5; i++)
    await writeTestSnapshot(ds, {
      group: 'vm/100',
      time: T0 + i * DAY,
      chunks: 1,
      seed: i,
      owner: 'ops@pam!backup',
    });
  await writeTestSnapshot(ds, { group: 'ct/7', time: T0, chunks: 1, seed: 9, owner: 'other@pam' });
  const admin = world.client(await world.token('admin@pam!t', [['/', 'admin']]));
  const ownerCreds = await world.token('ops@pam!backup', [['/datastore/store1', 'backup']]);
  const owner = world.client(ownerCreds);
  // What a PBS client reads: the wire form of a dry run, `keep` and `protected` per snapshot, newest first.
  const pool = new Pool(world.server.url, { connect: { rejectUnauthorized: false } });
  t.after(() => pool.close());
  const wireDryRun = async () => {
    const res = await pool.request({
      method: 'POST',
      path: '/api2/json/admin/datastore/store1/prune',
      headers: {
        authorization: authorizationHeader(ownerCreds.authId, ownerCreds.secret),
        'content-type': CONTENT_TYPE.json,
      },
      body: JSON.stringify({ 'backup-type': 'vm', 'backup-id': '100', 'dry-run': true, 'keep-last': 2 }),
    });
    const items = ((await res.body.json()) as { data: Record<string, unknown>[] }).data;
    return items.map((i) => [
      formatBackupTime(i['backup-time'] as number).slice(0, 10),
      i['keep'],
      i['protected'],
    ]);
  };
  const reader = world.client(await world.token('r@pam!t', [['/datastore/store1', 'reader']]));
  const times = async () =>
    (await ds.listSnapshots(root, vm)).map((s) => formatBackupTime(s.snapshot.time).slice(0, 10));

  // A dry run: decisions, newest first, and nothing removed.
  const plan = await owner.prune('store1', root, vm, { last: 2 }, { dryRun: true });
  assert.deepEqual(
    plan.map((p) => [formatBackupTime(p.snapshot.time).slice(0, 10), p.mark, p.removed]),
    [
      ['2026-11-05', 'keep', false],
      ['2026-11-04', 'keep', false],
      ['2026-11-03', 'remove', false],
      ['2026-11-02', 'remove', false],
      ['2026-11-01', 'remove', false],
    ],
  );
  assert.deepEqual(await wireDryRun(), [
    ['2026-11-05', true, false],
    ['2026-11-04', true, false],
    ['2026-11-03', false, false],
    ['2026-11-02', false, false],
    ['2026-11-01', false, false],
  ]);
  assert.equal((await times()).length, 5);

  // The owner protects the oldest; a reader holds the 2nd; the prune removes the 3rd only, and says why not the 2nd.
  await owner.setProtected('store1', root, { group: vm, time: T0 }, true);
  const held = await ds.lockSnapshot(root, { group: vm, time: T0 + DAY }, 'shared');
  let result: Awaited<ReturnType<typeof owner.prune>>;
  try {
    result = await owner.prune('store1', root, vm, { last: 2 });
  } finally {
    await held.release();
  }
  assert.deepEqual(
    result.map((p) => [formatBackupTime(p.snapshot.time).slice(0, 10), p.mark, p.removed, p.error?.code]),
    [
      ['2026-11-05', 'keep', false, undefined],
      ['2026-11-04', 'keep', false, undefined],
      ['2026-11-03', 'remove', true, undefined],
      ['2026-11-02', 'remove', false, 'FERRY_ERR_LOCKED'],
      ['2026-11-01', 'protected', false, undefined],
    ],
  );
  assert.deepEqual(await wireDryRun(), [
    ['2026-11-05', true, false],
    ['2026-11-04', true, false],
    ['2026-11-02', false, false],
    ['2026-11-01', true, true],
  ]);
  assert.deepEqual(await times(), ['2026-11-01', '2026-11-02', '2026-11-04', '2026-11-05']);
  assert.equal(await ds.isProtected(root, { group: vm, time: T0 }), true);

  // Lifted, the next prune takes the rest beyond the last two.
  await admin.setProtected('store1', root, { group: vm, time: T0 }, false);
  await admin.prune('store1', root, vm, { last: 2 });
  assert.deepEqual(await times(), ['2026-11-04', '2026-11-05']);
  // No keep option keeps everything.
  assert.ok((await admin.prune('store1', root, vm, {})).every((p) => p.mark === 'keep' && !p.removed));

  const forbidden = (err: unknown) => isFerryError(err, 'FERRY_ERR_FORBIDDEN');
  await assert.rejects(reader.prune('store1', root, vm, { last: 1 }), forbidden);
  await assert.rejects(
    reader.setProtected('store1', root, { group: vm, time: T0 + 4 * DAY }, true),
    forbidden,
  );
  await assert.rejects(
    owner.prune('store1', root, parseGroup('ct/7'), { last: 1 }, { dryRun: true }),
    forbidden,
  );
  await assert.rejects(admin.prune('store1', root, parseGroup('vm/404'), { last: 1 }), (err: unknown) =>
    isFerryError(err, 'FERRY_ERR_NOT_FOUND'),
  );
  await assert.rejects(admin.setProtected('store1', root, { group: vm, time: T0 }, true), (err: unknown) =>
    isFerryError(err, 'FERRY_ERR_NOT_FOUND'),
  );
  await assert.rejects(admin.prune('store1', root, vm, { daily: -1 }), (err: unknown) =>
    isFerryError(err, 'FERRY_ERR_INVALID_VALUE'),
  );
  await assert.rejects(
    admin.prune('store1', root, vm, { forever: 1 } as never),
    (err: unknown) => isFerryError(err, 'FERRY_ERR_INVALID_VALUE') && /keep-forever/.test(err.message),
  );
  assert.deepEqual(await times(), ['2026-11-04', '2026-11-05']);
  assert.equal((await ds.listSnapshots(root, parseGroup('ct/7'))).length, 1);
});
