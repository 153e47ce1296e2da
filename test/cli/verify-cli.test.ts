import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBackupSpec, runBackup } from '../../src/backup/index.js';
import { type Manifest, manifestVerifyTime } from '../../src/format/index.js';
import {
  makeGroup,
  makeSnapshot,
  parseAuthId,
  parseGroup,
  parseNamespace,
  type SnapshotRef,
} from '../../src/model/index.js';
import { Datastore } from '../../src/store/index.js';
import { ferry, ferryJson } from '../helpers/cli.js';
import { BASE_TIME, fillDatastore } from '../helpers/fixtures.js';
import { seededBytes } from '../helpers/random.js';
import { addServedRemote, serveHome, tokenWithRole } from '../helpers/serve.js';
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

test('ferry verify --max-depth N verifies --ns and N levels below it, locally and through the remote route; a bad value is a usage error and runs nothing', async (t) => {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  const storePath = join(dir, 'store');
  await ferryJson(home, ['datastore', 'create', 'store', storePath]);
  const ds = await Datastore.open(storePath);
  t.after(() => ds.close());
  // One snapshot in each of /, a, a/b and a/b/c: group vm/<depth>.
  const levels = ['', 'a', 'a/b', 'a/b/c'];
  const pool = makePool(t);
  for (const [depth, ns] of levels.entries())
    await fillDatastore(ds, pool, dir, { ns, groups: [`vm/${depth}`], snapshots: 1, blocks: 1 });

  const verified = async (...extra: string[]) =>
    (await ferryJson<VerifyJson>(home, ['verify', 'store', ...extra])).snapshots;
  assert.equal(await verified('--ns', 'a', '--max-depth', '0'), 1, 'a alone');
  assert.equal(await verified('--ns', 'a', '--max-depth', '1'), 2, 'a and a/b');
  assert.equal(await verified('--ns', 'a'), 3, 'a and everything below it');
  assert.equal(await verified('--max-depth', '0'), 1, "the root's own");
  assert.equal(await verified('--max-depth', '7'), 4);

  const tasks = async () => (await ferryJson<unknown[]>(home, ['task', 'list'])).length;
  const before = await tasks();
  for (const [value, message] of [
    ['8', '--max-depth must be a whole number from 0 to 7, not "8"'],
    ['-1', '--max-depth must be a whole number from 0 to 7, not "-1"'],
    ['one', '--max-depth must be a whole number from 0 to 7, not "one"'],
  ]) {
    for (const remote of [[], ['--remote', 'nowhere']]) {
      const bad = await ferry(home, ['verify', 'store', '--max-depth', value as string, ...remote]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.equal(bad.stderr, `ferry: error: ${message}\n`);
    }
  }
  const withSnapshot = await ferry(home, [
    'verify',
    'store',
    'vm/0/2026-01-01T00:00:00Z',
    '--max-depth',
    '0',
  ]);
  assert.equal(withSnapshot.code, 2, withSnapshot.stderr);
  assert.match(withSnapshot.stderr, /--max-depth is for the namespaces below --ns, not for one snapshot/);
  assert.equal(await tasks(), before, 'nothing ran');

  // The same through the server (POST …/verify with max-depth): which manifests name the remote task.
  const served = await serveHome(t, home);
  const secret = await tokenWithRole(home, 'ops@pbs!t', '/datastore/store', 'admin');
  const client = join(dir, 'client');
  await addServedRemote(client, 'site', served, 'ops@pbs!t', secret);
  const remoteVerified = async (...extra: string[]) => {
    const run = await ferry(client, [
      'verify',
      'store',
      '--remote',
      'site',
      '--output-format',
      'json',
      ...extra,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const { task } = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as { task: string };
    const by: string[] = [];
    for (const [depth, ns] of levels.entries()) {
      const m = await ds.readManifest(
        parseNamespace(ns),
        makeSnapshot(makeGroup('vm', `${depth}`), BASE_TIME),
      );
      if ((m.unprotected['verify_state'] as { upid?: string } | undefined)?.upid === task) by.push(ns);
    }
    return by;
  };
  assert.deepEqual(await remoteVerified('--ns', 'a', '--max-depth', '0'), ['a']);
  assert.deepEqual(await remoteVerified('--ns', 'a', '--max-depth', '1'), ['a', 'a/b']);
  assert.deepEqual(await remoteVerified('--max-depth', '0'), ['']);
  assert.deepEqual(await remoteVerified('--ns', 'a/b'), ['a/b', 'a/b/c']);
  const refused = await ferry(client, ['verify', 'store', '--remote', 'site', '--max-depth', '9']);
  assert.equal(refused.code, 2, refused.stderr);
  served.child.kill('SIGTERM');
  assert.equal((await served.done).code, 0);
});
