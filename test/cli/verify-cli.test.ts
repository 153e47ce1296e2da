import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBackupSpec, runBackup } from '../../src/backup/index.js';
import { type Manifest, manifestVerifyTime } from '../../src/format/index.js';
import { parseAuthId, parseGroup, parseNamespace, type SnapshotRef } from '../../src/model/index.js';
import { Datastore } from '../../src/store/index.js';
import { ferry, ferryJson } from '../helpers/cli.js';
import { seededBytes } from '../helpers/random.js';
import { log, makePool, tempDir } from '../helpers/world.js';

interface VerifyJson {
  snapshots: number;
  skipped: number;
  problems: string[];
}

const root = parseNamespace('');
const DAY = 86_400;

function withUpid(upid: unknown): Manifest {
  return { unprotected: { verify_state: { state: 'ok', upid } } } as unknown as Manifest;
}

test('the verify time is read from PBS UPIDs, Ferry task ids and the older verify ids; anything else has none', () => {
  assert.equal(
    manifestVerifyTime(
      withUpid('UPID:pbs1:000012AB:0000CD01:00000003:6745A2C0:verificationjob:store1:root@pam:'),
    ),
    0x6745a2c0,
  );
  assert.equal(manifestVerifyTime(withUpid('UPID:ferry:1a2b:6745a2c0:verify:store1:0f0e0d')), 0x6745a2c0);
  assert.equal(manifestVerifyTime(withUpid('verify:store1:19a2f3c4d5e')), Math.floor(0x19a2f3c4d5e / 1000));
  for (const bad of ['UPID:pbs1:xyz', 'hello', 42, undefined])
    assert.equal(manifestVerifyTime(withUpid(bad)), undefined, String(bad));
});

test('ferry verify --ignore-verified skips what passed, re-verifies what failed or is older than --outdated-after', async (t) => {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  const storePath = join(dir, 'store');
  await ferryJson(home, ['datastore', 'create', 'store', storePath]);
  const pool = makePool(t);
  const ds = await Datastore.open(storePath);
  t.after(() => ds.close());
  const snaps: SnapshotRef[] = [];
  for (let i = 0; i < 3; i++) {
    const file = join(dir, `disk-${i}.img`);
    await writeFile(file, seededBytes(50 + i, 200_000));
    const time = Date.UTC(2026, 10, 1 + i) / 1000;
    await runBackup(ds, {
      ns: root,
      group: parseGroup('vm/1'),
      time,
      owner: parseAuthId('root@pam'),
      sources: [parseBackupSpec(`drive.img:${file}`)],
      pool,
      log,
    });
    snaps.push({ group: parseGroup('vm/1'), time });
  }
  const verify = async (...extra: string[]) => ferryJson<VerifyJson>(home, ['verify', 'store', ...extra]);

  let r = await verify('--ignore-verified');
  assert.deepEqual([r.snapshots, r.skipped], [3, 0], 'none verified yet');
  r = await verify('--ignore-verified');
  assert.deepEqual([r.snapshots, r.skipped], [0, 3], 'all three passed a moment ago');
  const stamped = await ds.readManifest(root, snaps[0] as SnapshotRef);
  assert.ok(Math.abs((manifestVerifyTime(stamped) ?? 0) - Date.now() / 1000) < 600, 'the verify time is now');
  // Each run is a task: the manifests name the one that verified them, and its log says what it found.
  const tasks = await ferryJson<{ id: string; type: string; subject: string; state: string }[]>(home, [
    'task',
    'list',
  ]);
  assert.deepEqual(
    tasks.map((x) => [x.type, x.subject, x.state]),
    [
      ['verify', 'store', 'ok'],
      ['verify', 'store', 'ok'],
    ],
  );
  const upid = (stamped.unprotected['verify_state'] as { upid: string }).upid;
  assert.ok(
    tasks.some((x) => x.id === upid),
    `${upid} is one of the two tasks`,
  );
  const taskLog = await ferryJson<{ log: string }>(home, ['task', 'log', upid]);
  assert.match(taskLog.log, /snapshot vm\/1\/2026-11-01T00:00:00Z: ok/);
  assert.match(taskLog.log, /snapshot vm\/1\/2026-11-03T00:00:00Z: ok/);

  // One last verified 40 days ago (by a PBS, say), one whose verification failed.
  const old = Math.floor(Date.now() / 1000) - 40 * DAY;
  await ds.updateManifestUnprotected(root, snaps[0] as SnapshotRef, {
    verify_state: {
      state: 'ok',
      upid: `UPID:pbs1:00001234:00005678:00000001:${old.toString(16).toUpperCase()}:verify:store:root@pam:`,
    },
  });
  await ds.updateManifestUnprotected(root, snaps[1] as SnapshotRef, {
    verify_state: {
      state: 'failed',
      upid: `UPID:ferry:1:${Math.floor(Date.now() / 1000).toString(16)}:verify:store:aaaaaa`,
    },
  });
  r = await verify('--ignore-verified');
  assert.deepEqual([r.snapshots, r.skipped], [1, 2], 'only the failed one, without a maximum age');
  // The failed one passed now; the 40-day-old one is outdated after 30 days, not after 60.
  await ds.updateManifestUnprotected(root, snaps[0] as SnapshotRef, {
    verify_state: {
      state: 'ok',
      upid: `UPID:pbs1:00001234:00005678:00000001:${old.toString(16).toUpperCase()}:verify:store:root@pam:`,
    },
  });
  r = await verify('--ignore-verified', '--outdated-after', '60');
  assert.deepEqual([r.snapshots, r.skipped], [0, 3]);
  r = await verify('--ignore-verified', '--outdated-after', '30');
  assert.deepEqual([r.snapshots, r.skipped], [1, 2]);
  r = await verify('--ignore-verified', '--outdated-after', '0');
  assert.deepEqual([r.snapshots, r.skipped], [3, 0]);
  assert.deepEqual((await verify()).skipped, 0);

  const usage = await ferry(home, ['verify', 'store', '--outdated-after', '3']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--outdated-after needs --ignore-verified/);
  const bad = await ferry(home, ['verify', 'store', '--ignore-verified', '--outdated-after', '-1']);
  assert.equal(bad.code, 2);
});
