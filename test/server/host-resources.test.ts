/**
 * What belongs to the server's host as API resources: its tasks (list, one with its log, stop), its remotes (never
 * their secrets) and its sync jobs; admin on `/` only.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import {
  type RemoteEntry,
  validateSyncJobValues,
  writeRemoteConfig,
  writeSyncConfig,
} from '../../src/config/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { parseAuthId } from '../../src/model/index.js';
import { startServerWorld } from '../helpers/server.js';
import { bystander, startTicks, writeTaskRecord } from '../helpers/tasks.js';

const DONE = 'UPID:ferry:1f00:6a000000:syncjob:nightly:0000aa';

test('an admin on / lists the tasks, reads one with its log and stops a running one; others get 403', {
  skip: !existsSync('/proc/self/stat') && 'needs /proc',
}, async (t) => {
  const world = await startServerWorld(t);
  await writeTaskRecord(
    world.home,
    {
      id: DONE,
      type: 'syncjob',
      subject: 'nightly',
      pid: 7936,
      started: '2026-11-27T01:00:00.000Z',
      ended: '2026-11-27T01:02:00.000Z',
      state: 'ok',
      exitStatus: 0,
    },
    '2026-11-27T01:00:00Z start\n2026-11-27T01:02:00Z [vm/100]: done\n',
  );
  // A running task: a real process, with its real start time.
  const child = bystander(t);
  const pid = child.pid as number;
  const running = await writeTaskRecord(world.home, {
    id: `UPID:ferry:${pid.toString(16)}:6a000100:syncjob:hourly:0000bb`,
    type: 'syncjob',
    subject: 'hourly',
    pid,
    pstart: await startTicks(pid),
    started: '2026-11-27T02:00:00.000Z',
    state: 'running',
  });

  const admin = world.client(await world.token('admin@pam!t', [['/', 'admin']]));
  const tasks = await admin.listTasks();
  assert.deepEqual(
    tasks.map((task) => [task.id, task.state, task['exit-status']]),
    [
      [DONE, 'ok', 0],
      [running, 'running', undefined],
    ],
  );
  const one = await admin.readTask(DONE);
  assert.equal(one.task.subject, 'nightly');
  assert.deepEqual(one.log, ['2026-11-27T01:00:00Z start', '2026-11-27T01:02:00Z [vm/100]: done']);

  // Not enough: a datastore admin, or a reader on /.
  for (const grants of [[['/datastore/store1', 'admin']], [['/', 'reader']]] as [string, string][][]) {
    const other = world.client(await world.token(`u${grants[0]?.[1]}@pam!t`, grants));
    await assert.rejects(other.listTasks(), (err) => isFerryError(err, 'FERRY_ERR_FORBIDDEN'));
    await assert.rejects(other.stopTask(running), (err) => isFerryError(err, 'FERRY_ERR_FORBIDDEN'));
  }
  assert.equal(child.exitCode, null);

  await assert.rejects(admin.readTask('UPID:ferry:1:2:syncjob:gone:ff'), (err) =>
    isFerryError(err, 'FERRY_ERR_NOT_FOUND'),
  );
  await assert.rejects(admin.readTask('../../etc/passwd'), (err) =>
    isFerryError(err, 'FERRY_ERR_INVALID_VALUE'),
  );
  await assert.rejects(admin.stopTask(DONE), (err) => {
    assert.ok(isFerryError(err, 'FERRY_ERR_INVALID_VALUE'), String(err));
    assert.match(err.message, /is not running \(ok\)/);
    return true;
  });
  const gone = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await admin.stopTask(running);
  assert.equal(await gone, 'SIGTERM');
});

test('an admin on / lists the remotes without their secrets and the sync jobs with their keys; others get 403', async (t) => {
  const world = await startServerWorld(t);
  const secret = 'the-remote-secret-1234';
  const remote: RemoteEntry = {
    name: 'site-a',
    host: 'backup-a.example.com',
    port: 8007,
    authId: parseAuthId('sync@pbs!site-b'),
    secret,
    fingerprint: undefined,
    comment: 'offsite',
    scheme: 'https',
  };
  await writeRemoteConfig(world.home, [remote]);
  await writeSyncConfig(world.home, [
    validateSyncJobValues('nightly', {
      store: 'store1',
      remote: 'site-a',
      'remote-store': 'store9',
      'worker-threads': 4,
      'group-filter': ['type:vm'],
    }),
  ]);
  const admin = world.client(await world.token('admin@pam!t', [['/', 'admin']]));
  const remotes = await admin.listRemotes();
  assert.deepEqual(remotes, [
    {
      name: 'site-a',
      host: 'backup-a.example.com',
      port: 8007,
      'auth-id': 'sync@pbs!site-b',
      fingerprint: null,
      scheme: 'https',
      comment: 'offsite',
    },
  ]);
  const jobs = (await admin.listSyncJobs()) as Record<string, unknown>[];
  assert.equal(jobs.length, 1);
  const job = jobs[0] ?? {};
  assert.deepEqual(
    [job['id'], job['store'], job['remote'], job['remote-store'], job['worker-threads'], job['group-filter']],
    ['nightly', 'store1', 'site-a', 'store9', 4, ['type:vm']],
  );
  // The secret is in no answer, plain or as remote.cfg keeps it (base64).
  const answers = JSON.stringify([remotes, jobs]);
  for (const form of [secret, Buffer.from(secret).toString('base64')])
    assert.equal(answers.includes(form), false);

  const other = world.client(await world.token('store-admin@pam!t', [['/datastore/store1', 'admin']]));
  await assert.rejects(other.listRemotes(), (err) => isFerryError(err, 'FERRY_ERR_FORBIDDEN'));
  await assert.rejects(other.listSyncJobs(), (err) => isFerryError(err, 'FERRY_ERR_FORBIDDEN'));
});
