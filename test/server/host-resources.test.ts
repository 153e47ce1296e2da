/**
 * What belongs to the server's host as API resources: its tasks (list, one with its log, stop: admin on `/`, or the
 * datastore's role for a task of a datastore), its remotes (never their secrets) and its sync jobs (admin on `/`
 * only); and the GC and verification of a datastore, which its admin may start.
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
import { parseAuthId, parseNamespace, parseSnapshot } from '../../src/model/index.js';
import { startServerWorld } from '../helpers/server.js';
import { bystander, FINISHED_SYNC_TASK, writeRunningTask, writeTaskRecord } from '../helpers/tasks.js';

const DONE = FINISHED_SYNC_TASK.id;

test("an admin on / lists the tasks, reads one with its log and stops a running one; a sync job's task is closed to others", {
  skip: !existsSync('/proc/self/stat') && 'needs /proc',
}, async (t) => {
  const world = await startServerWorld(t);
  await writeTaskRecord(
    world.home,
    FINISHED_SYNC_TASK,
    '2026-11-27T01:00:00Z start\n2026-11-27T01:02:00Z [vm/100]: done\n',
  );
  // A running task: a real process, with its real start time.
  const child = bystander(t);
  const pid = child.pid as number;
  const running = await writeRunningTask(world.home, pid, 'syncjob', 'hourly', '0000bb');

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
  // From a line on (PBS's `start`): what a follower asks for once it has shown the lines before.
  const rest = await admin.readTask(DONE, { start: 1 });
  assert.deepEqual([rest.start, rest.log], [1, ['2026-11-27T01:02:00Z [vm/100]: done']]);
  assert.deepEqual((await admin.readTask(DONE, { start: 5 })).log, []);

  // Not enough: a datastore admin, or a reader on /. Their lists leave the host's tasks out; no role at all: no list.
  for (const grants of [[['/datastore/store1', 'admin']], [['/', 'reader']]] as [string, string][][]) {
    const other = world.client(await world.token(`u${grants[0]?.[1]}@pam!t`, grants));
    assert.deepEqual(await other.listTasks(), []);
    await assert.rejects(other.readTask(DONE), (err) => isFerryError(err, 'FERRY_ERR_FORBIDDEN'));
    await assert.rejects(other.stopTask(running), (err) => {
      assert.ok(isFerryError(err, 'FERRY_ERR_FORBIDDEN'), String(err));
      assert.match(
        err.message,
        /lacks role admin on \/ \(task .*:syncjob:hourly:.* is the host's, not a datastore's\)/,
      );
      return true;
    });
  }
  const nobody = world.client(await world.token('nobody@pam!t'));
  await assert.rejects(nobody.listTasks(), (err) => isFerryError(err, 'FERRY_ERR_FORBIDDEN'));
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

test("a running task of a datastore is stopped by that datastore's admin, not by its reader, a namespace's admin or another datastore's admin; 403 comes before 404", {
  skip: !existsSync('/proc/self/stat') && 'needs /proc',
}, async (t) => {
  const world = await startServerWorld(t, { stores: ['store1', 'store2'] });
  const child = bystander(t);
  const pid = child.pid as number;
  const gc = await writeRunningTask(world.home, pid, 'gc', 'store1', '0000cc');
  const reader = world.client(await world.token('reader@pbs!t', [['/datastore/store1', 'reader']]));
  assert.equal((await reader.readTask(gc)).task.state, 'running');
  for (const [authId, grant] of [
    ['reader@pbs!t', undefined],
    ['ns-admin@pbs!t', ['/datastore/store1/a', 'admin']],
    ['other-admin@pbs!t', ['/datastore/store2', 'admin']],
  ] as const) {
    const client = grant === undefined ? reader : world.client(await world.token(authId, [[...grant]]));
    await assert.rejects(client.stopTask(gc), (err) => {
      assert.ok(isFerryError(err, 'FERRY_ERR_FORBIDDEN'), String(err));
      assert.match(err.message, new RegExp(`^${authId} lacks role admin on /datastore/store1$`));
      return true;
    });
  }
  assert.equal(child.exitCode, null);

  const admin = world.client(await world.token('admin@pbs!t', [['/datastore/store1', 'admin']]));
  // A task id of another datastore is refused whether it exists or not; one of its own that does not exist is 404.
  await assert.rejects(admin.readTask('UPID:ferry:1:2:gc:store2:ff'), (err) =>
    isFerryError(err, 'FERRY_ERR_FORBIDDEN'),
  );
  await assert.rejects(admin.readTask('UPID:ferry:1:2:verify:store1:a:b:ff'), (err) =>
    isFerryError(err, 'FERRY_ERR_NOT_FOUND'),
  );
  const gone = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await admin.stopTask(gc);
  assert.equal(await gone, 'SIGTERM');
});

test("a datastore's admin may start its GC, and a verification where it is admin on every namespace covered (to max-depth); 403 before 404", async (t) => {
  // The test's server runs no jobs: a request that passes the permission check and the datastore's is answered
  // "does not run jobs" (500), one that does not 403.
  const world = await startServerWorld(t, { stores: ['store1', 'store2'] });
  const passed = (err: unknown) =>
    isFerryError(err, 'FERRY_ERR_INTERNAL') && /does not run jobs/.test(err.message);
  const refused = (message: string) => (err: unknown) => {
    assert.ok(isFerryError(err, 'FERRY_ERR_FORBIDDEN'), String(err));
    assert.equal(err.message, message);
    return true;
  };
  const admin = world.client(
    await world.token('sync@pbs!site-a', [
      ['/datastore/store1', 'admin'],
      ['/datastore/store1/a/secret', 'reader'],
    ]),
  );
  await assert.rejects(admin.startGc('store1'), passed);
  await assert.rejects(
    admin.startGc('store2'),
    refused('sync@pbs!site-a lacks role admin on /datastore/store2'),
  );
  await assert.rejects(
    admin.startGc('nostore'),
    refused('sync@pbs!site-a lacks role admin on /datastore/nostore'),
  );
  // The whole datastore would cover a/secret, where the token is a reader; a/other and a snapshot of a do not.
  await assert.rejects(
    admin.startVerify('store1'),
    refused(
      'sync@pbs!site-a lacks role admin on /datastore/store1 and the namespaces up to 7 level(s) below it',
    ),
  );
  await assert.rejects(admin.startVerify('store1', { ns: parseNamespace('a/other') }), passed);
  // max-depth bounds what is covered: a/secret is two levels down.
  await assert.rejects(admin.startVerify('store1', { maxDepth: 1 }), passed);
  await assert.rejects(
    admin.startVerify('store1', { maxDepth: 2 }),
    refused(
      'sync@pbs!site-a lacks role admin on /datastore/store1 and the namespaces up to 2 level(s) below it',
    ),
  );
  for (const options of [
    { maxDepth: 8 },
    { maxDepth: 0, snapshot: parseSnapshot('vm/100/2026-01-01T00:00:00Z') },
  ]) {
    await assert.rejects(admin.startVerify('store1', options), (err) =>
      isFerryError(err, 'FERRY_ERR_INVALID_VALUE'),
    );
  }
  await assert.rejects(
    admin.startVerify('store1', {
      ns: parseNamespace('a'),
      snapshot: parseSnapshot('vm/100/2026-01-01T00:00:00Z'),
    }),
    passed,
  );
  await assert.rejects(
    admin.startVerify('store1', {
      ns: parseNamespace('a/secret'),
      snapshot: parseSnapshot('vm/100/2026-01-01T00:00:00Z'),
    }),
    refused('sync@pbs!site-a lacks role admin on /datastore/store1/a/secret'),
  );
  // A namespace's admin: not the datastore's GC.
  const nsAdmin = world.client(await world.token('ns@pbs!t', [['/datastore/store1/a', 'admin']]));
  await assert.rejects(nsAdmin.startGc('store1'), refused('ns@pbs!t lacks role admin on /datastore/store1'));
  await assert.rejects(nsAdmin.startVerify('store1', { ns: parseNamespace('a') }), passed);
  // Only past the permission check does a missing datastore show.
  const root = world.client(await world.token('root@pam!t', [['/', 'admin']]));
  await assert.rejects(root.startGc('nostore'), (err) => isFerryError(err, 'FERRY_ERR_NOT_FOUND'));
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
