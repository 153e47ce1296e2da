/**
 * The operator's view of a remote from here, through its API: `task list|log|stop --remote` on the server's tasks and
 * `snapshots|groups --remote` on its datastores print what the same commands print on the server itself (text and
 * JSON). A real `ferry serve` subprocess, a real task running on it (test/fixtures/task-process.ts), and a client
 * home with the server as remote `site` (admin on /) and `site-ro` (reader on the datastores).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { TASK_LOG_ANSWER_BYTES } from '../../src/server/task-routes.js';
import { Datastore } from '../../src/store/index.js';
import { ferry, ferryJson, watchFerry } from '../helpers/cli.js';
import { fillDatastore } from '../helpers/fixtures.js';
import { addServedRemote, serveHome, tokenWithRole } from '../helpers/serve.js';
import { startTaskProcess } from '../helpers/task-process.js';
import { makePool, tempDir } from '../helpers/world.js';

/** A served home with datastore `store1` (groups at the root and in namespace `a`), and a client home using it. */
async function world(t: TestContext) {
  const dir = await tempDir(t);
  const home = join(dir, 'server-home');
  const storePath = join(dir, 'store1');
  await ferryJson(home, ['datastore', 'create', 'store1', storePath]);
  const ds = await Datastore.open(storePath);
  const pool = makePool(t);
  await fillDatastore(ds, pool, dir, { groups: ['vm/100', 'ct/200'], snapshots: 2, blocks: 1 });
  await fillDatastore(ds, pool, dir, { ns: 'a', groups: ['host/web'], snapshots: 1, blocks: 1 });
  await ds.close();
  const admin = await tokenWithRole(home, 'ops@pam!remote', '/', 'admin');
  const reader = await tokenWithRole(home, 'watch@pam!remote', '/datastore', 'reader');
  const served = await serveHome(t, home);
  const client = join(dir, 'client-home');
  await addServedRemote(client, 'site', served, 'ops@pam!remote', admin);
  await addServedRemote(client, 'site-ro', served, 'watch@pam!remote', reader);
  return { dir, home, storePath, client, served };
}

/** Runs the same command on the server's home and, with `--remote`, from the client: both outputs (exit 0). */
async function bothWays(
  w: { home: string; client: string },
  remote: string,
  args: string[],
): Promise<{ local: string; remote: string }> {
  const here = await ferry(w.home, args);
  assert.equal(here.code, 0, here.stderr);
  const there = await ferry(w.client, [...args, '--remote', remote]);
  assert.equal(there.code, 0, there.stderr);
  return { local: here.stdout, remote: there.stdout };
}

/** Asserts a command prints the same here with `--remote` as on the server (text and JSON); answers the JSON. */
async function assertSameBothWays(
  w: { home: string; client: string },
  remote: string,
  args: string[],
): Promise<string> {
  const text = await bothWays(w, remote, args);
  assert.equal(text.remote, text.local, args.join(' '));
  const json = await bothWays(w, remote, [...args, '--output-format', 'json']);
  // The same fields and values (a task record's keys may come in another order).
  assert.deepEqual(JSON.parse(json.remote), JSON.parse(json.local), `${args.join(' ')} (json)`);
  return json.local;
}

interface TaskJson {
  id: string;
  state: string;
  exitStatus?: number;
}

test('task list, log and stop --remote: the server tasks as it lists them; a follower prints a running task log as it grows, and stopping the task there makes it aborted (130)', async (t) => {
  const w = await world(t);
  const task = await startTaskProcess(t, w.home);
  task.send('log hello from the server');

  // The list, filtered here (the API has no filters), as the server's own `task list` prints it.
  const running = JSON.parse(
    await assertSameBothWays(w, 'site', ['task', 'list', '--running']),
  ) as TaskJson[];
  assert.deepEqual(
    running.map((r) => [r.id, r.state]),
    [[task.id, 'running']],
  );
  await assertSameBothWays(w, 'site', ['task', 'list', '--type', 'verify', '--since', '1h', '--limit', '1']);
  assert.deepEqual(await ferryJson(w.client, ['task', 'list', '--errors', '--remote', 'site']), []);

  const follow = watchFerry(t, w.client, ['task', 'log', task.id, '--follow', '--remote', 'site']);
  await follow.out.until('the first line', (s) => (s.includes('hello from the server') ? true : undefined));
  task.send('log written while followed');
  await follow.out.until('the new line', (s) => (s.includes('written while followed') ? true : undefined));

  assert.deepEqual(await ferryJson(w.client, ['task', 'stop', task.id, '--remote', 'site']), {
    id: task.id,
    signalled: true,
  });
  assert.equal(await task.exited, 130, 'the task process was interrupted');
  // The follower ends with the task: aborted, exit status 130.
  assert.equal(await follow.done, 130, follow.out.stderr());
  assert.match(follow.out.stderr(), new RegExp(`remote site: task ${task.id}: aborted`));
  assert.deepEqual(
    follow.out
      .stdout()
      .trim()
      .split('\n')
      .map((l) => l.replace(/^\S+ /, '')),
    ['hello from the server', 'written while followed'],
  );

  const ended = JSON.parse(await assertSameBothWays(w, 'site', ['task', 'list'])) as TaskJson[];
  assert.deepEqual(
    ended.map((r) => [r.id, r.state, r.exitStatus]),
    [[task.id, 'aborted', 130]],
  );
  await assertSameBothWays(w, 'site', ['task', 'log', task.id]);
  const again = await ferry(w.client, ['task', 'stop', task.id, '--remote', 'site']);
  assert.equal(again.code, 2, again.stderr);
  assert.match(again.stderr, /is not running \(aborted/);
  const followEnded = await ferry(w.client, ['task', 'log', task.id, '--follow', '--remote', 'site']);
  assert.equal(followEnded.code, 130, 'an ended task: its log at once, and its status');
  assert.match(followEnded.stdout, /written while followed/);

  // A reader on the datastores reads a datastore's task (this one is a verification of `fixture`) but may not stop it
  // (403, exit 12, before the task's state is looked at); an unknown remote is not found (10).
  const asReader = await ferryJson<TaskJson[]>(w.client, ['task', 'list', '--remote', 'site-ro']);
  assert.deepEqual(
    asReader.map((r) => r.id),
    [task.id],
  );
  const forbidden = await ferry(w.client, ['task', 'stop', task.id, '--remote', 'site-ro']);
  assert.equal(forbidden.code, 12, forbidden.stderr);
  for (const args of [
    ['task', 'list'],
    ['task', 'log', task.id],
    ['task', 'log', task.id, '--follow'],
    ['task', 'stop', task.id],
  ]) {
    const unknown = await ferry(w.client, [...args, '--remote', 'nope']);
    assert.equal(unknown.code, 10, unknown.stderr);
    assert.match(unknown.stderr, /remote nope is not configured/);
  }
  const missing = await ferry(w.client, ['task', 'log', `${task.id.slice(0, -6)}abcdef`, '--remote', 'site']);
  assert.equal(missing.code, 10, missing.stderr);
});

test('snapshots and groups --remote list the remote datastore as the server lists it itself (text and JSON), by namespace, group and with --all', async (t) => {
  const w = await world(t);
  // An unfinished snapshot (no manifest): only --all shows it, here and there.
  await mkdir(join(w.storePath, 'vm', '100', '2030-01-01T00:00:00Z'), { recursive: true });
  await writeFile(join(w.storePath, 'vm', '100', '2030-01-01T00:00:00Z', 'drive-scsi0.img.fidx'), '');

  const groups = JSON.parse(await assertSameBothWays(w, 'site-ro', ['groups', 'store1'])) as {
    group: string;
    snapshots: number;
  }[];
  assert.deepEqual(
    groups.map((g) => [g.group, g.snapshots]),
    [
      ['ct/200', 2],
      ['vm/100', 2],
    ],
  );
  await assertSameBothWays(w, 'site-ro', ['groups', 'store1', '--ns', 'a']);

  const all = JSON.parse(await assertSameBothWays(w, 'site-ro', ['snapshots', 'store1'])) as {
    snapshot: string;
    files: string[];
  }[];
  assert.equal(all.length, 4);
  assert.deepEqual(all[0]?.files, ['drive-scsi0.img.fidx', 'qemu.conf.blob']);
  await assertSameBothWays(w, 'site-ro', ['snapshots', 'store1', 'vm/100']);
  const inA = JSON.parse(await assertSameBothWays(w, 'site', ['snapshots', 'store1', '--ns', 'a'])) as {
    snapshot: string;
  }[];
  assert.deepEqual(
    inA.map((s) => s.snapshot.split('/').slice(0, 2).join('/')),
    ['host/web'],
  );
  const unfinished = JSON.parse(
    await assertSameBothWays(w, 'site-ro', ['snapshots', 'store1', 'vm/100', '--all']),
  ) as { snapshot: string; finished: boolean }[];
  assert.deepEqual(
    unfinished.map((s) => s.finished),
    [true, true, false],
  );
  assert.equal(unfinished[2]?.snapshot, 'vm/100/2030-01-01T00:00:00Z');

  for (const args of [
    ['snapshots', 'store1'],
    ['groups', 'store1'],
  ]) {
    const unknown = await ferry(w.client, [...args, '--remote', 'nope']);
    assert.equal(unknown.code, 10, unknown.stderr);
    assert.match(unknown.stderr, /remote nope is not configured/);
    const malformed = await ferry(w.client, [...args, '--remote', 'no/such']);
    assert.equal(malformed.code, 2, malformed.stderr);
  }
  // A datastore the server does not have: not found there (10), as here.
  const elsewhere = await ferry(w.client, ['snapshots', 'store9', '--remote', 'site']);
  assert.equal(elsewhere.code, 10, elsewhere.stderr);
  // A group or namespace that does not exist (a typo, say) is not found, here as there, never an empty list.
  for (const [args, what] of [
    [['snapshots', 'store1', 'vm/999'], /group vm\/999 does not exist/],
    [['snapshots', 'store1', '--ns', 'nope'], /namespace nope/],
    [['groups', 'store1', '--ns', 'nope'], /namespace nope/],
  ] as const) {
    const here = await ferry(w.home, [...args]);
    assert.equal(here.code, 10, `${args.join(' ')}: ${here.stdout}${here.stderr}`);
    assert.match(here.stderr, what);
    const there = await ferry(w.client, [...args, '--remote', 'site-ro']);
    assert.equal(there.code, 10, `${args.join(' ')} --remote: ${there.stdout}${there.stderr}`);
    assert.match(there.stderr, what);
  }
});

test('task log --remote of a log longer than one answer of the API (1 MiB) prints all of it, as the server prints it, and so does --follow', async (t) => {
  const dir = await tempDir(t);
  const home = join(dir, 'server-home');
  const admin = await tokenWithRole(home, 'ops@pam!remote', '/', 'admin');
  const served = await serveHome(t, home);
  const client = join(dir, 'client-home');
  await addServedRemote(client, 'site', served, 'ops@pam!remote', admin);
  // An ended task of the server's home with 1.3 MiB of log: two answers.
  const id = 'UPID:ferry:1f00:6a000000:gc:store1:00aa00';
  const tasks = join(home, 'tasks');
  await mkdir(tasks, { recursive: true });
  const record = {
    id,
    type: 'gc',
    subject: 'store1',
    pid: 0x1f00,
    started: '2026-11-28T10:00:00.000Z',
    ended: '2026-11-28T10:05:00.000Z',
    state: 'ok',
    exitStatus: 0,
  };
  await writeFile(join(tasks, `${id}.json`), JSON.stringify(record));
  const lines = Array.from(
    { length: 14_000 },
    (_, i) => `2026-11-28T10:00:00Z line ${i}: ${'chunk 3fa1… marked, '.repeat(3)}done`,
  );
  // A line's own trailing spaces are part of the log: printed as they are, locally as through the API.
  lines[lines.length - 1] = `${lines.at(-1)}   `;
  const text = lines.map((l) => `${l}\n`).join('');
  assert.ok(Buffer.byteLength(text) > TASK_LOG_ANSWER_BYTES, 'more than one answer');
  await writeFile(join(tasks, `${id}.log`), text);

  await assertSameBothWays({ home, client }, 'site', ['task', 'log', id]);
  const followed = await ferry(client, ['task', 'log', id, '--follow', '--remote', 'site']);
  assert.equal(followed.code, 0, followed.stderr);
  assert.equal(followed.stdout, text);
  const local = await ferry(home, ['task', 'log', id]);
  assert.equal(local.stdout, text, 'the local log as the file holds it');
});
