/**
 * `ferry task log ID --follow`: prints a running task's log as it grows, each line once, until the task ends, and
 * exits with the task's status; a task whose process died ends the follow with exit 1; Ctrl-C stops following and
 * never the task. The tasks are real: runAsTask in a process the test drives (test/fixtures/task-process.ts).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ferry, type Watched, watchFerry } from '../helpers/cli.js';
import { startTaskProcess } from '../helpers/task-process.js';
import { tempDir } from '../helpers/world.js';

function follow(t: TestContext, home: string, args: string[]): Watched {
  return watchFerry(t, home, ['task', 'log', ...args, '--follow']);
}

/** The messages of task log lines (`<time> <message>`), in order. */
function messages(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.replace(/^\S+ /, ''));
}

async function logHolds(home: string, id: string, text: string): Promise<void> {
  const path = join(home, 'tasks', `${id}.log`);
  for (let i = 0; i < 600; i++) {
    if ((await readFile(path, 'utf8').catch(() => '')).includes(text)) return;
    await sleep(50);
  }
  throw new Error(`the log of ${id} never held ${text}`);
}

test('task log --follow prints the lines a running task writes after it started following, each once, and exits with the task status when it ends', async (t) => {
  const home = join(await tempDir(t), 'home');
  const task = await startTaskProcess(t, home);
  task.send('log written before the follow');
  await logHolds(home, task.id, 'written before the follow');

  const follower = follow(t, home, [task.id]);
  await follower.out.until('the earlier line', (s) => (s.includes('before the follow') ? true : undefined));
  task.send('log first line while followed');
  await follower.out.until('the first new line', (s) => (s.includes('first line while') ? true : undefined));
  // Far more than one read of the log (64 KiB): lines cut between two reads still come whole, each once.
  task.send('burst 2000');
  task.send('log last line');
  await follower.out.until('the burst', (s) => (s.includes('last line') ? true : undefined));
  assert.equal(follower.child.exitCode, null, 'still following the running task');
  task.send('end 3');
  assert.equal(await follower.done, 3, follower.out.stderr());
  assert.equal(await task.exited, 0);

  const burst = Array.from({ length: 2000 }, (_, i) => `burst line ${i} ${'x'.repeat(80)}`);
  assert.deepEqual(messages(follower.out.stdout()), [
    'written before the follow',
    'first line while followed',
    ...burst,
    'last line',
  ]);
  assert.match(follower.out.stderr(), new RegExp(`task ${task.id}: error\\b`));

  // Once the task has ended, --follow prints its log and exits at once with its status; JSON: the lines on stderr,
  // the record on stdout.
  const ended = await ferry(home, ['task', 'log', task.id, '--follow', '--output-format', 'json']);
  assert.equal(ended.code, 3, ended.stderr);
  const record = JSON.parse(ended.stdout.trim()) as { id: string; state: string; exitStatus: number };
  assert.deepEqual([record.id, record.state, record.exitStatus], [task.id, 'error', 3]);
  assert.equal(messages(ended.stderr.split('\nferry: error:')[0] ?? '').length, 2003);
});

test('task log --follow exits 0 when the task ends ok, and the text output is the log as task log prints it', async (t) => {
  const home = join(await tempDir(t), 'home');
  const task = await startTaskProcess(t, home);
  const follower = follow(t, home, [task.id]);
  task.send('log one');
  task.send('log two');
  await follower.out.until('both lines', (s) => (s.includes('two') ? true : undefined));
  task.send('end 0');
  assert.equal(await follower.done, 0, follower.out.stderr());
  const plain = await ferry(home, ['task', 'log', task.id]);
  assert.equal(follower.out.stdout(), plain.stdout);
  assert.deepEqual(messages(plain.stdout), ['one', 'two']);
});

test('task log --follow on a task whose process died ends with exit 1: the task ended without recording its end', async (t) => {
  const home = join(await tempDir(t), 'home');
  const task = await startTaskProcess(t, home);
  task.send('log working');
  const follower = follow(t, home, [task.id]);
  await follower.out.until('its line', (s) => (s.includes('working') ? true : undefined));
  task.child.kill('SIGKILL');
  await task.exited;
  assert.equal(await follower.done, 1, follower.out.stderr());
  assert.match(
    follower.out.stderr(),
    new RegExp(`task ${task.id}: error: the task ended without recording its end`),
  );
  assert.deepEqual(messages(follower.out.stdout()), ['working']);
});

test('Ctrl-C stops following with exit 130 and leaves the task running', async (t) => {
  const home = join(await tempDir(t), 'home');
  const task = await startTaskProcess(t, home);
  task.send('log working');
  const follower = follow(t, home, [task.id]);
  await follower.out.until('its line', (s) => (s.includes('working') ? true : undefined));
  follower.child.kill('SIGINT');
  assert.equal(await follower.done, 130, follower.out.stderr());
  assert.match(
    follower.out.stderr(),
    /ferry: error: interrupted: task \S+: stopped following; the task goes on/,
  );
  await sleep(300);
  assert.equal(task.child.exitCode, null, 'the task goes on');
  const listed = await ferry(home, ['task', 'list', '--running', '--output-format', 'json']);
  assert.deepEqual(
    (JSON.parse(listed.stdout) as { id: string }[]).map((r) => r.id),
    [task.id],
  );
  task.send('end 0');
  assert.equal(await task.exited, 0);
});

test('task log --follow of a task that does not exist exits 10; a malformed id exits 2', async (t) => {
  const home = join(await tempDir(t), 'home');
  const missing = await ferry(home, ['task', 'log', 'UPID:ferry:1f:6a000000:verify:x:000001', '--follow']);
  assert.equal(missing.code, 10, missing.stderr);
  assert.match(missing.stderr, /task UPID:ferry:1f:6a000000:verify:x:000001 does not exist/);
  const malformed = await ferry(home, ['task', 'log', 'nope', '--follow']);
  assert.equal(malformed.code, 2, malformed.stderr);
});
