/**
 * GC and verification of a remote's datastore (`ferry gc|verify STORE --remote NAME`) by a token that is admin of that
 * datastore only, not of the remote's host: the run starts and its task is followed to the end; everything of other
 * datastores and of the host stays closed to it; the task list shows it only its datastore's tasks.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { isFerryError } from '../../src/errors/index.js';
import type { TaskItem } from '../../src/protocol/index.js';
import { FerryClient } from '../../src/remote/index.js';
import { Datastore } from '../../src/store/index.js';
import { ferry, ferryJson } from '../helpers/cli.js';
import { fillDatastore } from '../helpers/fixtures.js';
import { addServedRemote, serveHome, tokenWithRole } from '../helpers/serve.js';
import { FINISHED_SYNC_TASK, writeTaskRecord } from '../helpers/tasks.js';
import { log, makePool, tempDir } from '../helpers/world.js';

interface RemoteRunJson {
  task: string;
  state: string;
  exitStatus: number;
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as RemoteRunJson;
const forbidden = (err: unknown) => isFerryError(err, 'FERRY_ERR_FORBIDDEN');

test("a token with admin on /datastore/X only runs X's GC and verification on the remote and follows them; Y's, the host's tasks and a reader's stop are refused, and its task list holds X's tasks only", async (t) => {
  // Site B: datastores offsite (X, with a namespace a) and other (Y).
  const dir = await tempDir(t);
  const home = join(dir, 'site-b');
  await ferryJson(home, ['datastore', 'create', 'offsite', join(dir, 'offsite')]);
  await ferryJson(home, ['datastore', 'create', 'other', join(dir, 'other')]);
  const pool = makePool(t);
  for (const [name, ns] of [
    ['offsite', ''],
    ['offsite', 'a'],
    ['other', ''],
  ] as const) {
    const ds = await Datastore.open(join(dir, name));
    await fillDatastore(ds, pool, dir, { ns, groups: ['vm/100'], snapshots: 1, blocks: 1 });
    await ds.close();
  }
  const token = async (authId: string, path: string, role: string) => ({
    authId,
    secret: await tokenWithRole(home, authId, path, role),
  });
  const storeAdmin = await token('sync@pbs!site-a', '/datastore/offsite', 'admin');
  const storeReader = await token('watch@pbs!site-a', '/datastore/offsite', 'reader');
  const nsAdmin = await token('ns@pbs!site-a', '/datastore/offsite/a', 'admin');
  const { secret: noneSecret } = await ferryJson<{ secret: string }>(home, ['token', 'create', 'none@pbs!t']);
  // Tasks that are not X's: a GC of Y run on site B, and a sync job's run.
  const otherGc = lastJson((await ferry(home, ['gc', 'other', '--output-format', 'json'])).stdout).task;
  const syncTask = await writeTaskRecord(home, FINISHED_SYNC_TASK);
  await ferryJson(home, ['sync-job', 'create', 'nightly', '--store', 'other', '--remote-store', 'offsite']);
  const served = await serveHome(t, home);

  // Site A, after its nightly push.
  const siteA = join(dir, 'site-a');
  await addServedRemote(siteA, 'site-b', served, storeAdmin.authId, storeAdmin.secret);
  await addServedRemote(siteA, 'site-b-ns', served, nsAdmin.authId, nsAdmin.secret);

  const gc = await ferry(siteA, ['gc', 'offsite', '--remote', 'site-b', '--output-format', 'json']);
  assert.equal(gc.code, 0, gc.stderr);
  assert.match(gc.stderr, /gc: done/, "the task's log is followed");
  assert.deepEqual([lastJson(gc.stdout).state, lastJson(gc.stdout).exitStatus], ['ok', 0]);
  assert.match(lastJson(gc.stdout).task, /:gc:offsite:/);
  const verify = await ferry(siteA, ['verify', 'offsite', '--remote', 'site-b', '--output-format', 'json']);
  assert.equal(verify.code, 0, verify.stderr);
  // The task's log, followed: the root's snapshot and the one of namespace a.
  assert.match(verify.stderr, /Z snapshot vm\/100\/[^ ]+: ok\n/);
  assert.match(verify.stderr, /Z namespace a: snapshot vm\/100\/[^ ]+: ok\n/);
  assert.match(lastJson(verify.stdout).task, /:verify:offsite:/);

  // Y's GC and verification, and the host's jobs: 403, exit 12, before anything runs.
  for (const [args, why] of [
    [['gc', 'other'], 'admin on /datastore/other'],
    [['verify', 'other'], 'admin on /datastore/other and the namespaces up to 7 level(s) below it'],
    [['sync-job', 'run', 'nightly'], 'admin on /'],
  ] as const) {
    const refused = await ferry(siteA, [...args, '--remote', 'site-b']);
    assert.equal(refused.code, 12, `${args.join(' ')}: ${refused.stderr}`);
    assert.equal(refused.stderr, `ferry: error: sync@pbs!site-a lacks role ${why}\n`);
  }

  // An admin of namespace a verifies a (its task names it) and follows it, but neither the whole datastore nor GC.
  const nsVerify = await ferry(siteA, [
    'verify',
    'offsite',
    '--ns',
    'a',
    '--remote',
    'site-b-ns',
    '--output-format',
    'json',
  ]);
  assert.equal(nsVerify.code, 0, nsVerify.stderr);
  const nsTask = lastJson(nsVerify.stdout).task;
  assert.match(nsTask, /:verify:offsite:a:[0-9a-f]+$/);
  for (const args of [
    ['verify', 'offsite'],
    ['gc', 'offsite'],
  ]) {
    const refused = await ferry(siteA, [...args, '--remote', 'site-b-ns']);
    assert.equal(refused.code, 12, `${args.join(' ')}: ${refused.stderr}`);
    assert.match(refused.stderr, /ns@pbs!site-a lacks role admin on \/datastore\/offsite\b/);
  }

  // Through the API: X's admin lists X's tasks only, and cannot read or stop Y's or the host's.
  const client = (credentials: { authId: string; secret: string }) => {
    const c = new FerryClient({ url: served.url, fingerprint: served.fingerprint, ...credentials, log });
    t.after(() => c.close());
    return c;
  };
  const admin = client(storeAdmin);
  const ids = (tasks: TaskItem[]) => tasks.map((task) => `${task.type} ${task.subject}`).sort();
  assert.deepEqual(ids(await admin.listTasks()), ['gc offsite', 'verify offsite', 'verify offsite:a']);
  for (const id of [otherGc, syncTask]) {
    await assert.rejects(admin.readTask(id), forbidden, id);
    await assert.rejects(admin.stopTask(id), forbidden, id);
  }
  // The namespace's admin sees the verification of its namespace only.
  assert.deepEqual(ids(await client(nsAdmin).listTasks()), ['verify offsite:a']);
  // X's reader reads X's tasks (also a's) but stops none: 403 before the "is not running" of an ended task.
  const reader = client(storeReader);
  const read = await reader.readTask(lastJson(gc.stdout).task);
  assert.equal(read.task.state, 'ok');
  assert.ok(read.log.some((line) => line.includes('gc: done')));
  assert.equal((await reader.readTask(nsTask)).task.subject, 'offsite:a');
  await assert.rejects(reader.stopTask(lastJson(gc.stdout).task), forbidden);
  await assert.rejects(reader.readTask(otherGc), forbidden);
  // A token without any role gets no list at all.
  await assert.rejects(client({ authId: 'none@pbs!t', secret: noneSecret }).listTasks(), forbidden);

  served.child.kill('SIGTERM');
  assert.equal((await served.done).code, 0);
});
