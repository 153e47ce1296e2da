/**
 * The scheduler of `ferry serve`: sync jobs with a `schedule` and datastores with a `gc-schedule` run as their own
 * `ferry` processes when their calendar event elapses after their last run; the job state every run writes (by hand
 * or scheduled) is what `sync-job list` and `datastore list` show; one run of a job at a time.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobLauncher, Scheduler } from '../../src/cli/scheduler.js';
import { lockJob, readJobState, recordJobRun } from '../../src/config/index.js';
import { SYSTEM_CLOCK } from '../../src/model/index.js';
import { Datastore } from '../../src/store/index.js';
import { FERRY_BIN, ferry, ferryJson, finished, spawnFerry } from '../helpers/cli.js';
import { fillDatastore } from '../helpers/fixtures.js';
import { addServedRemote, serveHome, tokenWithRole } from '../helpers/serve.js';
import { log, makePool, tempDir } from '../helpers/world.js';

interface JobListed {
  id: string;
  schedule?: string;
  'next-run'?: number;
  'last-run-upid'?: string;
  'last-run-state'?: string;
  'last-run-endtime'?: number;
}

interface TaskListed {
  id: string;
  type: string;
  subject: string;
  state: string;
  message?: string;
}

async function world(t: TestContext) {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  await ferryJson(home, ['datastore', 'create', 'source', join(dir, 'source')]);
  await ferryJson(home, ['datastore', 'create', 'target', join(dir, 'target')]);
  const source = await Datastore.open(join(dir, 'source'));
  await fillDatastore(source, makePool(t), dir, { groups: ['vm/100', 'ct/200'], snapshots: 2, blocks: 2 });
  await source.close();
  return { dir, home };
}

/** Polls `probe` until it returns a value, for at most `ms`. */
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function syncJobs(home: string): Promise<JobListed[]> {
  return ferryJson<JobListed[]>(home, ['sync-job', 'list']);
}

async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

test('ferry serve runs a sync job and a GC when their schedules elapse; sync-job list and datastore list show the last and next run; SIGTERM stops it', async (t) => {
  const w = await world(t);
  await ferryJson(w.home, [
    'sync-job',
    'create',
    'often',
    '--store',
    'target',
    '--remote-store',
    'source',
    '--schedule',
    '*:*:0/2',
    '--worker-threads',
    '2',
  ]);
  await ferryJson(w.home, ['datastore', 'update', 'target', '--gc-schedule', '*:*:0/3']);
  // Not scheduled yet: no last run; the next one is within two seconds of now.
  // (The listing computes it at some moment while its process runs, which under load may take seconds.)
  const listedFrom = Date.now() / 1000;
  const before = (await syncJobs(w.home))[0] as JobListed;
  const listedTo = Date.now() / 1000;
  assert.equal(before.schedule, '*:*:0/2');
  assert.equal(before['last-run-upid'], undefined);
  const next = before['next-run'] as number;
  assert.ok(
    next >= Math.floor(listedFrom) && next <= listedTo + 2,
    `next run ${next}, listed ${listedFrom}-${listedTo}`,
  );

  const server = spawnFerry(w.home, ['serve', '--listen', '127.0.0.1:0', '--insecure-http'], {
    FERRY_LOG_LEVEL: 'info',
  });
  const done = finished(server);
  t.after(() => server.kill('SIGKILL'));
  const lines = createInterface({ input: server.stdout as NodeJS.ReadableStream });
  await once(lines, 'line');

  const ran = await until('the scheduled sync job to run', 60_000, async () => {
    const job = (await syncJobs(w.home))[0];
    return job?.['last-run-state'] === 'ok' ? job : undefined;
  });
  assert.match(ran['last-run-upid'] as string, /^UPID:ferry:[0-9a-f]+:[0-9a-f]+:syncjob:often:/);
  assert.ok((ran['next-run'] as number) > (ran['last-run-endtime'] as number) - 3);
  const snapshots = await ferryJson<unknown[]>(w.home, ['snapshots', 'target']);
  assert.equal(snapshots.length, 4);
  const gcRan = await until('the scheduled GC to run', 60_000, async () => {
    const stores = await ferryJson<(JobListed & { name: string })[]>(w.home, ['datastore', 'list']);
    const target = stores.find((s) => s.name === 'target');
    return target?.['last-run-state'] === 'ok' ? target : undefined;
  });
  assert.match(gcRan['last-run-upid'] as string, /:gc:target:/);
  const tasks = await ferryJson<TaskListed[]>(w.home, ['task', 'list']);
  assert.ok(tasks.some((task) => task.type === 'syncjob' && task.subject === 'often' && task.state === 'ok'));
  assert.ok(tasks.some((task) => task.type === 'gc' && task.subject === 'target' && task.state === 'ok'));

  // A run by hand while the job's lock is held (a run in progress) is refused at once and records nothing.
  // (The scheduler's own runs, every 2 s, are refused the same way while the test holds the lock.)
  const lock = await until('the job lock', 30_000, () =>
    lockJob(w.home, 'sync', 'often').catch(() => undefined),
  );
  const state = await readJobState(w.home, 'sync', 'often');
  const refused = await ferry(w.home, ['sync-job', 'run', 'often']);
  assert.deepEqual(await readJobState(w.home, 'sync', 'often'), state);
  await lock.release();
  assert.equal(refused.code, 11, refused.stderr);
  assert.match(refused.stderr, /sync job often is locked by another task/);

  server.kill('SIGTERM');
  const result = await done;
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /scheduler: starting sync job often \(schedule "\*:\*:0\/2"/);
  assert.match(result.stderr, /scheduler: garbage collection of target finished/);
  const verify = await ferry(w.home, ['verify', 'target']);
  assert.equal(verify.code, 0, verify.stderr);
});

test('a run missed while no server ran happens once; a job that fails is recorded as failed and not restarted until its next event', async (t) => {
  const w = await world(t);
  const port = await closedPort();
  await ferryJson(w.home, [
    'remote',
    'add',
    'gone',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--auth-id',
    'sync@pbs!t',
    '--secret',
    's',
    '--fingerprint',
    Array.from({ length: 32 }, () => 'ab').join(':'),
  ]);
  for (const [id, remote] of [
    ['daily-copy', undefined],
    ['offsite', 'gone'],
  ] as const) {
    await ferryJson(w.home, [
      'sync-job',
      'create',
      id,
      '--store',
      'target',
      '--remote-store',
      'source',
      ...(remote ? ['--remote', remote] : []),
      '--schedule',
      'daily',
    ]);
    // Last run two days ago: today's run was missed.
    const twoDaysAgo = Math.floor(Date.now() / 1000) - 2 * 86400;
    await recordJobRun(w.home, 'sync', id, {
      task: 'UPID:old',
      started: twoDaysAgo,
      ended: twoDaysAgo,
      state: 'ok',
    });
  }
  // A prune job missed the same way, on a datastore of its own (keep-last 1 of each group's two snapshots).
  await ferryJson(w.home, ['datastore', 'create', 'spare', join(w.dir, 'spare')]);
  const spare = await Datastore.open(join(w.dir, 'spare'));
  await fillDatastore(spare, makePool(t), w.dir, { groups: ['vm/300', 'vm/301'], snapshots: 2, blocks: 1 });
  await spare.close();
  await ferryJson(w.home, [
    'prune-job',
    'create',
    'retention',
    '--store',
    'spare',
    '--keep-last',
    '1',
    '--schedule',
    'daily',
  ]);
  const twoDaysAgo = Math.floor(Date.now() / 1000) - 2 * 86400;
  await recordJobRun(w.home, 'prune', 'retention', {
    task: 'UPID:old',
    started: twoDaysAgo,
    ended: twoDaysAgo,
    state: 'ok',
  });
  const launcher = new JobLauncher({ home: w.home, log, cli: { command: FERRY_BIN, args: [] } });
  const scheduler = new Scheduler({
    home: w.home,
    clock: SYSTEM_CLOCK,
    log,
    launcher,
    timeZone: 'UTC',
  });
  const stop = new AbortController();
  t.after(() => stop.abort());
  const running = scheduler.run(stop.signal);
  const jobs = await until('both missed runs to end', 60_000, async () => {
    const listed = await syncJobs(w.home);
    return listed.every((j) => j['last-run-upid'] !== 'UPID:old' && j['last-run-state'] !== 'running')
      ? listed
      : undefined;
  });
  const pruned = await until('the missed prune job to end', 60_000, async () => {
    const state = await readJobState(w.home, 'prune', 'retention');
    return state.last?.state !== undefined && state.last.task !== 'UPID:old' ? state.last : undefined;
  });
  assert.equal(pruned.state, 'ok');
  assert.equal((await ferryJson<unknown[]>(w.home, ['snapshots', 'spare'])).length, 2);
  const byId = new Map(jobs.map((j) => [j.id, j]));
  assert.equal(byId.get('daily-copy')?.['last-run-state'], 'ok');
  assert.equal(byId.get('offsite')?.['last-run-state'], 'error');
  // Next runs: the next midnight (the list reads schedules in the host's time zone), counted from the runs just made.
  for (const job of jobs) {
    const next = new Date((job['next-run'] as number) * 1000);
    assert.deepEqual([next.getHours(), next.getMinutes(), next.getSeconds()], [0, 0, 0], job.id);
    assert.ok(next.getTime() > Date.now() && next.getTime() <= Date.now() + 86_400_000, job.id);
  }
  // Ticks now start nothing (a start registers at once): each job ran once.
  await scheduler.tick();
  await scheduler.tick();
  for (const [kind, id] of [
    ['sync', 'daily-copy'],
    ['sync', 'offsite'],
    ['prune', 'retention'],
  ] as const)
    assert.equal(launcher.isRunning({ kind, id, args: [] }), false, `${kind} ${id} started again`);
  const tasks = await ferryJson<TaskListed[]>(w.home, ['task', 'list']);
  assert.deepEqual(tasks.map((task) => `${task.subject} ${task.state}`).sort(), [
    'daily-copy ok',
    'offsite error',
    'retention ok',
  ]);
  // What an operator asks the next morning: what failed, what one job did.
  const subjects = async (args: string[]) =>
    (await ferryJson<TaskListed[]>(w.home, ['task', 'list', ...args])).map((task) => task.subject).sort();
  assert.deepEqual(await subjects(['--errors']), ['offsite']);
  assert.deepEqual(await subjects(['--type', 'prunejob']), ['retention']);
  assert.deepEqual(await subjects(['--subject', 'daily-copy', '--since', '1h']), ['daily-copy']);
  assert.equal((await subjects(['--limit', '2'])).length, 2);
  assert.equal((await ferry(w.home, ['task', 'list', '--limit', '0'])).code, 2);
  // The failed run says why, in its task.
  const failed = tasks.find((task) => task.subject === 'offsite') as TaskListed;
  assert.match(failed.message ?? '', new RegExp(`127\\.0\\.0\\.1:${port}|ECONNREFUSED`));
  stop.abort();
  await running;
});

test('schedules are checked: a bad calendar event is a usage error naming it; a hand-edited sync.cfg with one names file, line and key', async (t) => {
  const w = await world(t);
  const base = ['sync-job', 'create', 'j', '--store', 'target', '--remote-store', 'source'];
  const bad = await ferry(w.home, [...base, '--schedule', 'mon..frx 02:00']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /key schedule: invalid calendar event "mon\.\.frx 02:00"/);
  const badGc = await ferry(w.home, ['datastore', 'update', 'target', '--gc-schedule', '25:00']);
  assert.equal(badGc.code, 2, badGc.stderr);
  assert.match(badGc.stderr, /--gc-schedule: invalid calendar event "25:00"/);

  await ferryJson(w.home, [...base, '--schedule', 'mon..fri 02:00']);
  const cfg = join(w.home, 'sync.cfg');
  await writeFile(cfg, (await readFile(cfg, 'utf8')).replace('mon..fri 02:00', 'someday'));
  const list = await ferry(w.home, ['sync-job', 'list']);
  assert.equal(list.code, 2, list.stderr);
  assert.match(list.stderr, /sync\.cfg:\d+: sync j: key schedule: invalid calendar event "someday"/);

  // gc-schedule: set, shown, removed.
  await ferryJson(w.home, [
    'datastore',
    'update',
    'target',
    '--gc-schedule',
    'sat 03:00',
    '--comment',
    'offsite',
  ]);
  let stores = await ferryJson<Record<string, unknown>[]>(w.home, ['datastore', 'list']);
  const target = stores.find((s) => s['name'] === 'target') as Record<string, unknown>;
  assert.equal(target['gc-schedule'], 'sat 03:00');
  assert.equal(target['comment'], 'offsite');
  assert.equal(new Date((target['next-run'] as number) * 1000).getDay(), 6);
  await ferryJson(w.home, ['datastore', 'update', 'target', '--delete', 'gc-schedule']);
  stores = await ferryJson<Record<string, unknown>[]>(w.home, ['datastore', 'list']);
  assert.equal(stores.find((s) => s['name'] === 'target')?.['gc-schedule'], undefined);
  const missing = await ferry(w.home, ['datastore', 'update', 'nope', '--comment', 'x']);
  assert.equal(missing.code, 10, missing.stderr);
});

test('ferry sync-job run --remote (and prune-job, gc, verify): the server runs its job, GC or verification as its own process (POST /admin/{kind}/{id}/run, /admin/datastore/{store}/gc, …/verify) and the CLI follows its task to its exit status; a run in progress, an unknown job, a token without admin and a datastore in maintenance are refused', async (t) => {
  const w = await world(t);
  await ferryJson(w.home, ['sync-job', 'create', 'nightly', '--store', 'target', '--remote-store', 'source']);
  const admin = await tokenWithRole(w.home, 'ops@pam!remote', '/', 'admin');
  const reader = await tokenWithRole(w.home, 'watch@pam!remote', '/datastore', 'reader');
  const served = await serveHome(t, w.home);

  // The operator's own machine: a home with the server as remote `site`, once as admin, once as a reader.
  const client = join(w.dir, 'client-home');
  await addServedRemote(client, 'site', served, 'ops@pam!remote', admin);
  await addServedRemote(client, 'site-ro', served, 'watch@pam!remote', reader);

  const run = await ferry(client, [
    'sync-job',
    'run',
    'nightly',
    '--remote',
    'site',
    '--output-format',
    'json',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as { task: string; state: string };
  assert.equal(result.state, 'ok');
  assert.match(result.task, /^UPID:ferry:[0-9a-f]+:[0-9a-f]+:syncjob:nightly:/);
  assert.match(run.stderr, /\[vm\/100\]: /, 'the task log lines are shown as they come');
  // On the server: the run is the job's last run, under the id the API answered, and the target has everything.
  assert.equal((await readJobState(w.home, 'sync', 'nightly')).last?.task, result.task);
  assert.equal((await ferryJson<unknown[]>(w.home, ['snapshots', 'target'])).length, 4);

  // A prune job of the server, the same way.
  await ferryJson(w.home, [
    'prune-job',
    'create',
    'trim',
    '--store',
    'target',
    '--keep-last',
    '1',
    '--schedule',
    'daily',
  ]);
  const pruned = await ferry(client, ['prune-job', 'run', 'trim', '--remote', 'site']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stderr, /vm\/100\/[^ ]+: removed/);
  assert.equal((await ferryJson<unknown[]>(w.home, ['snapshots', 'target'])).length, 2);

  const lock = await lockJob(w.home, 'sync', 'nightly');
  const busy = await ferry(client, ['sync-job', 'run', 'nightly', '--remote', 'site']);
  await lock.release();
  assert.equal(busy.code, 11, busy.stderr);
  assert.match(busy.stderr, /sync job nightly did not start: .*sync job nightly is locked by another task/);
  const unknown = await ferry(client, ['sync-job', 'run', 'nope', '--remote', 'site']);
  assert.equal(unknown.code, 10, unknown.stderr);
  assert.match(unknown.stderr, /sync job nope does not exist/);
  const forbidden = await ferry(client, ['sync-job', 'run', 'nightly', '--remote', 'site-ro']);
  assert.equal(forbidden.code, 12, forbidden.stderr);

  // GC and verification of the server's datastore, asked for from here (POST /admin/datastore/{store}/gc, …/verify).
  const lastJson = (stdout: string) =>
    JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { task: string; state: string; exitStatus: number };
  const gc = await ferry(client, ['gc', 'target', '--remote', 'site', '--output-format', 'json']);
  assert.equal(gc.code, 0, gc.stderr);
  assert.match(lastJson(gc.stdout).task, /^UPID:ferry:[0-9a-f]+:[0-9a-f]+:gc:target:/);
  assert.equal((await readJobState(w.home, 'gc', 'target')).last?.task, lastJson(gc.stdout).task);
  const verified = await ferry(client, ['verify', 'target', '--remote', 'site', '--output-format', 'json']);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(lastJson(verified.stdout).task, /:verify:target:/);
  // The server's manifests record that verification: verifying again there with --ignore-verified skips both.
  const again = await ferry(w.home, ['verify', 'target', '--ignore-verified']);
  assert.match(again.stdout, /verified 0 snapshot\(s\).*skipped 2 verified before/);
  // Damaged chunks on the server (every chunk file: some belong to pruned snapshots that only GC's grace keeps): the
  // remote verification fails with the server's findings, naming a damaged chunk, and exit status 1.
  const chunks = join(w.dir, 'target', '.chunks');
  const damagedNames: string[] = [];
  for (const prefix of (await readdir(chunks)).filter((n) => /^[0-9a-f]{4}$/.test(n))) {
    for (const chunk of await readdir(join(chunks, prefix))) {
      const chunkPath = join(chunks, prefix, chunk);
      const bytes = await readFile(chunkPath);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
      await writeFile(chunkPath, bytes);
      damagedNames.push(chunk.slice(0, 8));
    }
  }
  const damaged = await ferry(client, ['verify', 'target', '--remote', 'site']);
  assert.equal(damaged.code, 1, damaged.stderr);
  const named = [...damaged.stderr.matchAll(/chunk ([0-9a-f]{8})/g)].map((m) => m[1]);
  assert.ok(named.length > 0 && named.every((c) => damagedNames.includes(c as string)), damaged.stderr);
  assert.match(damaged.stderr, /remote site: verification of target failed/);
  // A datastore in maintenance refuses before any process starts; --grace is the server's own.
  await ferryJson(w.home, [
    'datastore',
    'update',
    'target',
    '--maintenance-mode',
    'type=offline,message=disk swap',
  ]);
  for (const args of [
    ['gc', 'target'],
    ['verify', 'target'],
  ]) {
    const refused = await ferry(client, [...args, '--remote', 'site']);
    assert.equal(refused.code, 11, refused.stderr);
    assert.match(refused.stderr, /datastore target is in offline maintenance mode \(disk swap\)/);
  }
  const usage = await ferry(client, ['gc', 'target', '--remote', 'site', '--grace', '0']);
  assert.equal(usage.code, 2, usage.stderr);

  served.child.kill('SIGTERM');
  assert.equal((await served.done).code, 0);
});
