/**
 * `ferry prune-job` and `ferry verify-job` (PBS's prune.cfg and verification.cfg): made and checked like sync jobs,
 * run by hand as tasks that record the job's last run, over the namespaces below the anchor to max-depth; and what
 * the scheduler of `ferry serve` takes from them.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { scheduledJobs } from '../../src/cli/scheduler.js';
import { type Digest, parseArchiveName, parseNamespace, parseSnapshot } from '../../src/model/index.js';
import { Datastore } from '../../src/store/index.js';
import { ferry, ferryJson } from '../helpers/cli.js';
import { fillDatastore } from '../helpers/fixtures.js';
import { makePool, tempDir } from '../helpers/world.js';

interface JobJson {
  id: string;
  'last-run-upid'?: string;
  'last-run-state'?: string;
  'next-run'?: number;
  [key: string]: unknown;
}

interface TaskJson {
  type: string;
  subject: string;
  state: string;
  exitStatus?: number;
}

/** A datastore with 3 snapshots of vm/100 at the root, in namespace a and in a/b (1 h apart, from 2026-01-01). */
async function world(t: TestContext) {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  const storePath = join(dir, 'store');
  await ferryJson(home, ['datastore', 'create', 'store', storePath]);
  const ds = await Datastore.open(storePath);
  const pool = makePool(t);
  for (const ns of ['', 'a', 'a/b'])
    await fillDatastore(ds, pool, dir, { ns, groups: ['vm/100'], snapshots: 3, blocks: 1 });
  await ds.close();
  return { dir, home, storePath };
}

/** Snapshots at the root, in a and in a/b. */
async function counts(home: string): Promise<number[]> {
  const out: number[] = [];
  for (const ns of ['', 'a', 'a/b'])
    out.push((await ferryJson<unknown[]>(home, ['snapshots', 'store', '--ns', ns])).length);
  return out;
}

test('prune jobs: checked when made, run by hand as a task over the namespaces to max-depth, listed with their last and next run; a datastore in use stays', async (t) => {
  const w = await world(t);
  const cfg = join(w.home, 'prune.cfg');
  for (const [args, code, message] of [
    [['--keep-last', '1'], 2, /prune p: key schedule: .*required/i],
    [['--keep-last', '1', '--schedule', 'mon..frx'], 2, /key schedule: invalid calendar event "mon\.\.frx"/],
    [['--keep-last', '0', '--schedule', 'daily'], 2, /key keep-last/],
    [['--keep-last', '1', '--schedule', 'daily', '--max-depth', '8'], 2, /key max-depth/],
    [['--keep-daily', 'x', '--schedule', 'daily'], 2, /key keep-daily/],
  ] as const) {
    const run = await ferry(w.home, ['prune-job', 'create', 'p', '--store', 'store', ...args]);
    assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(' '));
  }
  const noStore = await ferry(w.home, [
    'prune-job',
    'create',
    'p',
    '--store',
    'nope1',
    '--schedule',
    'daily',
  ]);
  assert.equal(noStore.code, 2, noStore.stderr);
  assert.match(noStore.stderr, /prune job p: store nope1 is not a datastore of this host/);
  await assert.rejects(readFile(cfg), { code: 'ENOENT' });

  // Namespace a alone (max-depth 0), then the root and one level below it, then all levels.
  const created = await ferryJson<JobJson>(w.home, [
    'prune-job',
    'create',
    'nightly',
    '--store',
    'store',
    '--ns',
    'a',
    '--max-depth',
    '0',
    '--keep-last',
    '1',
    '--schedule',
    'daily',
    '--comment',
    'keep one',
  ]);
  assert.equal(created['keep-last'], 1);
  assert.equal(created['last-run-upid'], undefined);
  assert.match(await readFile(cfg, 'utf8'), /^prune: nightly\n\tstore store\n/);
  const dup = await ferry(w.home, [
    'prune-job',
    'create',
    'nightly',
    '--store',
    'store',
    '--schedule',
    'daily',
  ]);
  assert.equal(dup.code, 1, dup.stderr);
  assert.match(dup.stderr, /prune job nightly exists already/);

  const run = await ferryJson<{ removed: number; job: string }>(w.home, ['prune-job', 'run', 'nightly']);
  assert.equal(run.removed, 2);
  assert.equal(run.job, 'nightly');
  assert.deepEqual(await counts(w.home), [3, 1, 3]);
  const [listed] = await ferryJson<JobJson[]>(w.home, ['prune-job', 'list']);
  assert.equal(listed?.['last-run-state'], 'ok');
  assert.match(listed?.['last-run-upid'] as string, /:prunejob:nightly:/);
  // daily: the next local midnight after the run.
  const next = new Date((listed?.['next-run'] as number) * 1000);
  assert.deepEqual([next.getHours(), next.getMinutes(), next.getSeconds()], [0, 0, 0]);
  assert.ok(next.getTime() > Date.now() && next.getTime() <= Date.now() + 86_400_000);
  const tasks = await ferryJson<TaskJson[]>(w.home, ['task', 'list']);
  assert.deepEqual(
    tasks.map((task) => `${task.type} ${task.subject} ${task.state}`),
    ['prunejob nightly ok'],
  );

  await ferryJson(w.home, ['prune-job', 'update', 'nightly', '--ns', '', '--max-depth', '1']);
  await ferryJson(w.home, ['prune-job', 'run', 'nightly']);
  assert.deepEqual(await counts(w.home), [1, 1, 3]);
  await ferryJson(w.home, ['prune-job', 'update', 'nightly', '--delete', 'max-depth']);
  await ferryJson(w.home, ['prune-job', 'run', 'nightly']);
  assert.deepEqual(await counts(w.home), [1, 1, 1]);

  // Disabled: not scheduled, still runs by hand; the scheduler takes the others.
  await ferryJson(w.home, ['prune-job', 'update', 'nightly', '--disable']);
  await ferryJson(w.home, ['verify-job', 'create', 'weekly', '--store', 'store', '--schedule', 'sat 04:00']);
  await ferryJson(w.home, ['datastore', 'update', 'store', '--gc-schedule', 'sun 05:00']);
  const errors: string[] = [];
  const scheduled = await scheduledJobs(w.home, (file) => errors.push(file));
  assert.deepEqual(errors, []);
  assert.deepEqual(
    scheduled.map((j) => `${j.kind} ${j.id} ${j.schedule} ${j.args.join(' ')}`),
    ['verify weekly sat 04:00 verify-job run weekly', 'gc store sun 05:00 gc store'],
  );
  const [disabled] = await ferryJson<JobJson[]>(w.home, ['prune-job', 'list']);
  assert.equal(disabled?.['next-run'], undefined);

  // Neither the datastore nor the job goes while something uses it; then both go.
  const inUse = await ferry(w.home, ['datastore', 'remove', 'store']);
  assert.equal(inUse.code, 1, inUse.stderr);
  assert.match(inUse.stderr, /datastore store is used by prune job nightly, verify job weekly/);
  await ferryJson(w.home, ['prune-job', 'remove', 'nightly']);
  await ferryJson(w.home, ['verify-job', 'remove', 'weekly']);
  assert.equal((await ferry(w.home, ['prune-job', 'show', 'nightly'])).code, 10);
  await ferryJson(w.home, ['datastore', 'remove', 'store']);
});

test('verify jobs: skip what passed (the PBS default), verify all with ignore-verified off, and fail naming the damaged snapshot', async (t) => {
  const w = await world(t);
  await ferryJson(w.home, ['verify-job', 'create', 'v', '--store', 'store', '--ns', 'a', '--max-depth', '0']);
  const first = await ferryJson<{ snapshots: number; skipped: number }>(w.home, ['verify-job', 'run', 'v']);
  assert.deepEqual([first.snapshots, first.skipped], [3, 0]);
  const second = await ferryJson<{ snapshots: number; skipped: number }>(w.home, ['verify-job', 'run', 'v']);
  assert.deepEqual([second.snapshots, second.skipped], [0, 3]);
  const [job] = await ferryJson<JobJson[]>(w.home, ['verify-job', 'list']);
  assert.equal(job?.['last-run-state'], 'ok');
  assert.equal(job?.['next-run'], undefined); // no schedule: by hand only

  // Every snapshot again (ignore-verified off); a damaged chunk in namespace a fails the job, naming it.
  await ferryJson(w.home, ['verify-job', 'update', 'v', '--ignore-verified', 'false']);
  const ds = await Datastore.open(w.storePath);
  const snap = parseSnapshot('vm/100/2026-01-01T00:00:00Z');
  const index = await ds.readArchive(parseNamespace('a'), snap, parseArchiveName('drive-scsi0.img.fidx'));
  const digest = index.subarray(4096, 4128).toString('hex') as Digest;
  await ds.close();
  const chunk = join(w.storePath, '.chunks', digest.slice(0, 4), digest);
  const bytes = await readFile(chunk);
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
  await writeFile(chunk, bytes);
  const bad = await ferry(w.home, ['verify-job', 'run', 'v']);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stdout, /namespace a: snapshot vm\/100\/2026-01-01T00:00:00Z/);
  const [failed] = await ferryJson<JobJson[]>(w.home, ['verify-job', 'list']);
  assert.equal(failed?.['last-run-state'], 'error');
});
