import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBackupSpec, runBackup } from '../../src/backup/index.js';
import {
  parseAuthId,
  parseBackupTime,
  parseGroup,
  parseNamespace,
  parseSnapshot,
} from '../../src/model/index.js';
import { type ChunkPool, Datastore } from '../../src/store/index.js';
import { ferry, ferryJson } from '../helpers/cli.js';
import { seededBytes } from '../helpers/random.js';
import { startServerWorld } from '../helpers/server.js';
import { writeTestSnapshot } from '../helpers/snapshots.js';
import { log, makePool, tempDir } from '../helpers/world.js';

interface PruneJson {
  dryRun: boolean;
  removed: number;
  failed: number;
  snapshots: {
    snapshot: string;
    mark: string;
    reason?: string;
    removed: boolean;
    error?: { code: string };
  }[];
}

// vm/100: two a day on the 20th and 21st, one on the 23rd, 24th and 25th (UTC); ct/7: three in one hour.
const VM_TIMES = [
  '2026-11-20T06:00:00Z',
  '2026-11-20T18:00:00Z',
  '2026-11-21T06:00:00Z',
  '2026-11-21T18:00:00Z',
  '2026-11-23T06:00:00Z',
  '2026-11-24T06:00:00Z',
  '2026-11-25T06:00:00Z',
];
const CT_TIMES = ['2026-11-25T10:00:00Z', '2026-11-25T10:20:00Z', '2026-11-25T10:40:00Z'];

async function listSnapshots(home: string): Promise<string[]> {
  const rows = await ferryJson<{ snapshot: string }[]>(home, ['snapshots', 'store']);
  return rows.map((r) => r.snapshot).sort();
}

/** Snapshots made in-process (the commands under test here are prune, forget and protect), each with a chunk of its own. */
async function backUp(
  dir: string,
  storePath: string,
  pool: ChunkPool,
  backups: [string, string][],
): Promise<void> {
  const ds = await Datastore.open(storePath);
  try {
    for (const [i, [group, time]] of backups.entries()) {
      const file = join(dir, `disk-${i}.img`);
      await writeFile(file, seededBytes(1000 + i, 300_000));
      await runBackup(ds, {
        ns: parseNamespace(''),
        group: parseGroup(group),
        time: parseBackupTime(time),
        owner: parseAuthId('root@pam'),
        sources: [parseBackupSpec(`drive.img:${file}`)],
        pool,
        log,
      });
    }
  } finally {
    await ds.close();
  }
}

async function treeFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

test('ferry prune keeps what the keep rules select (PBS semantics), dry runs change nothing, and gc then frees the rest', async (t) => {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  const storePath = join(dir, 'store');
  await ferryJson(home, ['datastore', 'create', 'store', storePath]);
  await backUp(dir, storePath, makePool(t), [
    ...VM_TIMES.map((time): [string, string] => ['vm/100', time]),
    ...CT_TIMES.map((time): [string, string] => ['ct/7', time]),
  ]);
  const oldest = `vm/100/${VM_TIMES[0]}`;
  await ferryJson(home, ['protect', 'store', oldest]);
  const all = await listSnapshots(home);
  assert.equal(all.length, 10);

  // A dry run says what would go and touches nothing.
  const before = await treeFiles(storePath);
  const env = { TZ: 'UTC' };
  const dry = await ferry(
    home,
    ['prune', 'store', '--keep-last', '1', '--keep-daily', '2', '--dry-run', '--output-format', 'json'],
    env,
  );
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout) as PruneJson;
  assert.equal(plan.dryRun, true);
  assert.deepEqual(await treeFiles(storePath), before);
  const marks = Object.fromEntries(plan.snapshots.map((s) => [s.snapshot, [s.mark, s.reason ?? '']]));
  assert.deepEqual(marks, {
    // keep-last 1: the 25th; keep-daily 2: the 24th and the 23rd; the protected one stays; the rest go.
    'vm/100/2026-11-25T06:00:00Z': ['keep', 'keep-last'],
    'vm/100/2026-11-24T06:00:00Z': ['keep', 'keep-daily'],
    'vm/100/2026-11-23T06:00:00Z': ['keep', 'keep-daily'],
    'vm/100/2026-11-21T18:00:00Z': ['remove', ''],
    'vm/100/2026-11-21T06:00:00Z': ['remove', ''],
    'vm/100/2026-11-20T18:00:00Z': ['remove', ''],
    [oldest]: ['protected', ''],
    // ct/7: keep-last takes 10:40; the day of the 25th is covered by it, so keep-daily finds no other day.
    'ct/7/2026-11-25T10:40:00Z': ['keep', 'keep-last'],
    'ct/7/2026-11-25T10:20:00Z': ['remove', ''],
    'ct/7/2026-11-25T10:00:00Z': ['remove', ''],
  });
  assert.equal(plan.removed, 5);

  // A reader holds one of the doomed snapshots: it stays (exit 11, named), the others go.
  const ds = await Datastore.open(storePath);
  const held = parseSnapshot('vm/100/2026-11-21T06:00:00Z');
  const readLock = await ds.lockSnapshot(parseNamespace(''), held, 'shared');
  let run: Awaited<ReturnType<typeof ferry>>;
  try {
    run = await ferry(
      home,
      ['prune', 'store', 'vm/100', '--keep-last', '1', '--keep-daily', '2', '--output-format', 'json'],
      env,
    );
  } finally {
    await readLock.release();
    await ds.close();
  }
  assert.equal(run.code, 11, run.stderr);
  assert.match(
    run.stderr,
    /prune: 1 snapshot\(s\) could not be removed; first vm\/100\/2026-11-21T06:00:00Z: .*lock/,
  );
  const partial = JSON.parse(run.stdout) as PruneJson;
  assert.equal(partial.removed, 2);
  assert.equal(partial.failed, 1);
  assert.equal(
    partial.snapshots.find((s) => s.snapshot === 'vm/100/2026-11-21T06:00:00Z')?.error?.code,
    'FERRY_ERR_LOCKED',
  );

  // Run again with nothing held: the whole namespace, both groups.
  const done = await ferry(
    home,
    ['prune', 'store', '--keep-last', '1', '--keep-daily', '2', '--output-format', 'json'],
    env,
  );
  assert.equal(done.code, 0, done.stderr);
  assert.equal((JSON.parse(done.stdout) as PruneJson).failed, 0);
  assert.deepEqual(
    await listSnapshots(home),
    [
      'ct/7/2026-11-25T10:40:00Z',
      oldest,
      'vm/100/2026-11-23T06:00:00Z',
      'vm/100/2026-11-24T06:00:00Z',
      'vm/100/2026-11-25T06:00:00Z',
    ].sort(),
  );

  // GC frees the five removed snapshots' own chunks, and what is left verifies and restores.
  const gc = await ferryJson<{ removedChunks: number; task: string }>(home, ['gc', 'store', '--grace', '0']);
  assert.equal(gc.removedChunks, 5, JSON.stringify(gc));

  // The prunes that removed and the gc are tasks with logs (the dry run is not).
  const tasks = await ferryJson<{ id: string; type: string; state: string; exitStatus?: number }[]>(home, [
    'task',
    'list',
  ]);
  assert.deepEqual(tasks.map((x) => [x.type, x.state, x.exitStatus]).sort(), [
    ['gc', 'ok', 0],
    ['prune', 'error', 11],
    ['prune', 'ok', 0],
  ]);
  const pruneLogs = await Promise.all(
    tasks
      .filter((x) => x.type === 'prune')
      .map((x) => ferryJson<{ log: string }>(home, ['task', 'log', x.id])),
  );
  const logs = pruneLogs.map((l) => l.log).join('\n');
  assert.match(logs, /vm\/100\/2026-11-25T06:00:00Z: keep \(keep-last\)/);
  assert.match(logs, /WARN: vm\/100\/2026-11-21T06:00:00Z: remove failed: .*lock/);
  assert.match(logs, /vm\/100\/2026-11-21T06:00:00Z: removed/);
  const gcLog = (await ferryJson<{ log: string }>(home, ['task', 'log', gc.task])).log;
  assert.match(gcLog, /gc: done .*"removedChunks":5/);
  // Times in the log as people read them, not epoch milliseconds.
  assert.match(gcLog, /gc: done .*"startedAt":"\d{4}-\d\d-\d\dT[^"]*Z".*"cutoff":"\d{4}-\d\d-\d\dT[^"]*Z"/);
  const verify = await ferry(home, ['verify', 'store']);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  const restored = join(dir, 'restored.img');
  await ferryJson(home, ['restore', 'store', 'vm/100/2026-11-23T06:00:00Z', 'drive.img', restored]);
  assert.deepEqual(await readFile(restored), seededBytes(1000 + 4, 300_000));
});

test('ferry forget removes one snapshot; protect guards it; refusals change nothing', async (t) => {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  await ferryJson(home, ['datastore', 'create', 'store', join(dir, 'store')]);
  await backUp(dir, join(dir, 'store'), makePool(t), [
    ['vm/1', '2026-11-01T00:00:00Z'],
    ['vm/1', '2026-11-02T00:00:00Z'],
  ]);
  const first = 'vm/1/2026-11-01T00:00:00Z';

  await ferryJson(home, ['protect', 'store', first]);
  const refused = await ferry(home, ['forget', 'store', first]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /snapshot vm\/1\/2026-11-01T00:00:00Z is protected/);
  assert.equal((await listSnapshots(home)).length, 2);
  const protectedRow = (
    await ferryJson<{ snapshot: string; protected: boolean }[]>(home, ['snapshots', 'store'])
  ).find((r) => r.snapshot === first);
  assert.equal(protectedRow?.protected, true);

  await ferryJson(home, ['protect', 'store', first, '--off']);
  await ferryJson(home, ['forget', 'store', first]);
  assert.deepEqual(await listSnapshots(home), ['vm/1/2026-11-02T00:00:00Z']);

  const missing = await ferry(home, ['forget', 'store', first]);
  assert.equal(missing.code, 10);
  assert.match(missing.stderr, /snapshot vm\/1\/2026-11-01T00:00:00Z does not exist/);
  const protectMissing = await ferry(home, ['protect', 'store', first]);
  assert.equal(protectMissing.code, 10);
  const noGroup = await ferry(home, ['prune', 'store', 'vm/2', '--keep-last', '1']);
  assert.equal(noGroup.code, 10);
  assert.match(noGroup.stderr, /group vm\/2 does not exist/);
  const noNs = await ferry(home, ['prune', 'store', '--ns', 'nope', '--keep-last', '1']);
  assert.equal(noNs.code, 10);
  assert.match(noNs.stderr, /namespace nope/);
  for (const bad of [
    ['--keep-daily', '-1'],
    ['--keep-last', 'x'],
    ['--keep-weekly', '1.5'],
  ]) {
    const r = await ferry(home, ['prune', 'store', ...bad]);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(bad[0] as string));
  }
  // No keep option: PBS keeps everything, and so does this.
  const keepAll = await ferryJson<PruneJson>(home, ['prune', 'store']);
  assert.equal(keepAll.removed, 0);
  assert.deepEqual(await listSnapshots(home), ['vm/1/2026-11-02T00:00:00Z']);
});

test('prune, protect and forget with --remote act on a server through its API, with the same decisions and refusals', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const day = (d: number) => Date.UTC(2026, 10, d, 12) / 1000;
  for (const d of [1, 2, 3, 4])
    await writeTestSnapshot(ds, {
      group: 'vm/100',
      time: day(d),
      chunks: 1,
      seed: d,
      owner: 'ops@pam!prune',
    });
  await writeTestSnapshot(ds, { group: 'ct/7', time: day(1), chunks: 1, seed: 9, owner: 'ops@pam!prune' });
  const creds = await world.token('ops@pam!prune', [['/datastore/store1', 'backup']]);
  const home = join(await tempDir(t), 'home');
  const url = new URL(world.server.url);
  await ferryJson(home, [
    'remote',
    'add',
    'site-a',
    '--host',
    url.hostname,
    '--port',
    url.port,
    '--auth-id',
    creds.authId,
    '--secret',
    creds.secret,
    '--fingerprint',
    world.server.fingerprint ?? '',
  ]);
  const remaining = async () =>
    (await ds.listSnapshots(parseNamespace(''), parseGroup('vm/100'))).map((s) => s.snapshot.time);

  const plan = await ferryJson<PruneJson>(home, [
    'prune',
    'store1',
    'vm/100',
    '--remote',
    'site-a',
    '--keep-last',
    '2',
    '--dry-run',
  ]);
  assert.deepEqual(
    plan.snapshots.map((s) => [s.mark, s.removed]),
    [
      ['keep', false],
      ['keep', false],
      ['remove', false],
      ['remove', false],
    ],
  );
  assert.equal((await remaining()).length, 4);

  await ferryJson(home, ['protect', 'store1', 'vm/100/2026-11-01T12:00:00Z', '--remote', 'site-a']);
  const done = await ferryJson<PruneJson>(home, [
    'prune',
    'store1',
    '--remote',
    'site-a',
    '--keep-last',
    '2',
  ]);
  assert.equal(done.removed, 1);
  assert.deepEqual(await remaining(), [day(1), day(3), day(4)]);
  assert.equal(
    (await ds.listSnapshots(parseNamespace(''), parseGroup('ct/7'))).length,
    1,
    'one snapshot: kept',
  );

  const refused = await ferry(home, [
    'forget',
    'store1',
    'vm/100/2026-11-01T12:00:00Z',
    '--remote',
    'site-a',
  ]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /is protected/);
  await ferryJson(home, ['protect', 'store1', 'vm/100/2026-11-01T12:00:00Z', '--remote', 'site-a', '--off']);
  await ferryJson(home, ['forget', 'store1', 'vm/100/2026-11-01T12:00:00Z', '--remote', 'site-a']);
  assert.deepEqual(await remaining(), [day(3), day(4)]);
  const missing = await ferry(home, ['prune', 'store1', 'vm/404', '--remote', 'site-a', '--keep-last', '1']);
  assert.equal(missing.code, 10, missing.stderr);
  const unknownRemote = await ferry(home, ['prune', 'store1', '--remote', 'nowhere', '--keep-last', '1']);
  assert.equal(unknownRemote.code, 10, unknownRemote.stderr);
});
