/**
 * `ferry task list|log|stop` against task records whose process is gone or whose pid now belongs to another process
 * (pids are reused): such a task shows as ended, and `task stop` never signals the stranger.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ferry, ferryJson } from '../helpers/cli.js';
import { bystander, startTicks, writeTaskRecord } from '../helpers/tasks.js';
import { tempDir } from '../helpers/world.js';

interface TaskJson {
  id: string;
  state: string;
  message?: string;
}

/** Writes a task record as `ferry` itself would, in the state of one still running. */
async function runningTask(
  home: string,
  n: number,
  pid: number,
  pstart: number | undefined,
): Promise<string> {
  const id = `UPID:ferry:${pid.toString(16)}:6a000000:pull:job-${n}:00000${n}`;
  const record = {
    id,
    type: 'pull',
    subject: `job-${n}`,
    pid,
    ...(pstart === undefined ? {} : { pstart }),
    started: '2026-11-27T10:00:00.000Z',
    state: 'running',
  };
  return writeTaskRecord(home, record);
}

test('a task whose pid now belongs to another process shows as ended, and task stop leaves that process alone', {
  skip: !existsSync('/proc/self/stat') && 'needs /proc',
}, async (t) => {
  const home = join(await tempDir(t), 'home');
  const stranger = bystander(t);
  const own = bystander(t);
  const pid = stranger.pid as number;
  // The record says the task's process started at another time than the process now holding its pid.
  const reused = await runningTask(home, 1, pid, (await startTicks(pid)) + 1);
  const live = await runningTask(home, 2, own.pid as number, await startTicks(own.pid as number));

  const listed = await ferryJson<TaskJson[]>(home, ['task', 'list']);
  const byId = new Map(listed.map((r) => [r.id, r]));
  assert.equal(byId.get(reused)?.state, 'error');
  assert.match(byId.get(reused)?.message ?? '', /ended without recording its end/);
  assert.equal(byId.get(live)?.state, 'running');
  // --running: only the one whose process is alive (the reused pid's record counts as ended).
  const running = await ferryJson<TaskJson[]>(home, ['task', 'list', '--running']);
  assert.deepEqual(
    running.map((r) => r.id),
    [live],
  );

  const refused = await ferry(home, ['task', 'stop', reused]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, new RegExp(`task ${reused} is not running \\(error: `));
  await sleep(200);
  assert.equal(stranger.exitCode, null);
  assert.equal(stranger.signalCode, null, 'the process that got the pid was not signalled');

  const gone = new Promise((resolve) => own.once('exit', (_code, signal) => resolve(signal)));
  assert.deepEqual(await ferryJson(home, ['task', 'stop', live]), { id: live, signalled: true });
  assert.equal(await gone, 'SIGTERM');
});

test('a task recorded as running whose process is gone shows as ended, and task stop refuses it', async (t) => {
  const home = join(await tempDir(t), 'home');
  const child = spawn('true', [], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  const id = await runningTask(home, 3, child.pid as number, undefined);
  const { state } = await ferryJson<TaskJson>(home, ['task', 'log', id]);
  assert.equal(state, 'error');
  const refused = await ferry(home, ['task', 'stop', id]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /is not running \(error: the task ended without recording its end\)/);
});

test('task prune removes the records and logs of tasks that ended before the cutoff, never a running one', {
  skip: !existsSync('/proc/self/stat') && 'needs /proc',
}, async (t) => {
  const home = join(await tempDir(t), 'home');
  const day = 24 * 3600 * 1000;
  const at = (daysAgo: number) => new Date(Date.now() - daysAgo * day).toISOString();
  const task = (n: number, fields: Record<string, unknown>) => ({
    id: `UPID:ferry:1f0${n}:6a000000:syncjob:job-${n}:00000${n}`,
    type: 'syncjob',
    subject: `job-${n}`,
    pid: 7936,
    ...fields,
  });
  const oldDone = await writeTaskRecord(
    home,
    task(1, { started: at(41), ended: at(40), state: 'ok' }),
    'old\n',
  );
  const recent = await writeTaskRecord(
    home,
    task(2, { started: at(2), ended: at(1), state: 'error' }),
    'new\n',
  );
  // Recorded as running, its process long gone: it ended without recording when, so its start counts.
  const gone = spawn('true', [], { stdio: 'ignore' });
  await new Promise((resolve) => gone.once('exit', resolve));
  const crashed = await writeTaskRecord(home, task(3, { pid: gone.pid, started: at(35), state: 'running' }));
  // Running for 40 days and still alive: kept, however old.
  const alive = bystander(t);
  const running = await writeTaskRecord(
    home,
    task(4, {
      pid: alive.pid,
      pstart: await startTicks(alive.pid as number),
      started: at(40),
      state: 'running',
    }),
  );

  const pruned = await ferryJson<{ removed: number; kept: number }>(home, ['task', 'prune']);
  assert.deepEqual([pruned.removed, pruned.kept], [2, 2]);
  const left = await readdir(join(home, 'tasks'));
  for (const id of [oldDone, crashed]) assert.ok(!left.some((n) => n.startsWith(id)), `${id} removed`);
  for (const id of [recent, running]) assert.ok(left.includes(`${id}.json`), `${id} kept`);
  assert.ok(left.includes(`${recent}.log`));
  assert.deepEqual(
    (await ferryJson<TaskJson[]>(home, ['task', 'list'])).map((r) => [r.id, r.state]),
    [
      [running, 'running'],
      [recent, 'error'],
    ],
  );
  const shorter = await ferryJson<{ removed: number }>(home, ['task', 'prune', '--older-than', '12h']);
  assert.equal(shorter.removed, 1, 'the task that ended a day ago');
  assert.equal(alive.exitCode, null);
  assert.equal((await ferry(home, ['task', 'prune', '--older-than', 'soon'])).code, 2);
});
