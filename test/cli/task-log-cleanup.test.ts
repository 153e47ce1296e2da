/**
 * The task-log cleanup of `ferry serve`'s scheduler (node.cfg's `task-log-max-days`, PBS's daily task-log rotation):
 * at its first look and then at each midnight it removes the tasks (record and log) that ended longer ago, never a
 * running one; unset, it removes nothing. Driven tick by tick with a clock of the test's own.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { JobLauncher, Scheduler } from '../../src/cli/scheduler.js';
import { nodeConfigPath, writeNodeConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log/index.js';
import { FERRY_BIN } from '../helpers/cli.js';
import { bystander, startTicks, writeTaskRecord } from '../helpers/tasks.js';
import { log, tempDir } from '../helpers/world.js';

const DAY_MS = 86_400_000;
/** The test's "now": noon UTC, so the next cleanup is due twelve hours later, at midnight. */
const NOON = Date.parse('2026-06-15T12:00:00Z');

/** A scheduler on `home` whose clock reads `clock.ms`, logging into `lines`; it has no jobs to start. */
function scheduler(home: string, clock: { ms: number }, lines: string[]): Scheduler {
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
  return new Scheduler({
    home,
    clock: { now: () => clock.ms },
    log: logger,
    launcher: new JobLauncher({ home, log, cli: { command: FERRY_BIN, args: [] } }),
    timeZone: 'UTC',
    maxSleepMs: 7 * DAY_MS,
  });
}

/** A task of `ferry`'s own making that ended `daysAgo` before `now`, with its log; returns its id. */
function endedTask(home: string, n: number, now: number, daysAgo: number): Promise<string> {
  const at = (ms: number) => new Date(ms).toISOString();
  return writeTaskRecord(
    home,
    {
      id: `UPID:ferry:1f0${n}:6a000000:syncjob:job-${n}:00000${n}`,
      type: 'syncjob',
      subject: `job-${n}`,
      pid: 7936,
      started: at(now - daysAgo * DAY_MS - 60_000),
      ended: at(now - daysAgo * DAY_MS),
      state: 'ok',
    },
    `job ${n}\n`,
  );
}

/** A task still running (its process alive, started 50 days before `now`). */
async function runningTask(t: TestContext, home: string, now: number): Promise<string> {
  const alive = bystander(t);
  return writeTaskRecord(
    home,
    {
      id: 'UPID:ferry:1f09:6a000000:syncjob:job-9:000009',
      type: 'syncjob',
      subject: 'job-9',
      pid: alive.pid,
      pstart: await startTicks(alive.pid as number),
      started: new Date(now - 50 * DAY_MS).toISOString(),
      state: 'running',
    },
    'still going\n',
  );
}

async function taskFiles(home: string): Promise<string[]> {
  return (await readdir(join(home, 'tasks'))).sort();
}

const needsProc = { skip: !existsSync('/proc/self/stat') && 'needs /proc' };

test(
  'with task-log-max-days 30, the first tick removes the task that ended 40 days ago (record and log), keeps the one of 2 days ago and the running one, and the next cleanup waits for midnight',
  needsProc,
  async (t) => {
    const home = join(await tempDir(t), 'home');
    const clock = { ms: NOON };
    const old = await endedTask(home, 1, NOON, 40);
    const recent = await endedTask(home, 2, NOON, 2);
    const running = await runningTask(t, home, NOON);
    await writeNodeConfig(home, { 'task-log-max-days': 30 });
    const lines: string[] = [];
    const s = scheduler(home, clock, lines);

    const wait = await s.tick();
    assert.deepEqual(await taskFiles(home), [
      `${recent}.json`,
      `${recent}.log`,
      `${running}.json`,
      `${running}.log`,
    ]);
    assert.ok(!(await taskFiles(home)).some((name) => name.startsWith(old)));
    assert.match(lines.join(''), /scheduler: removed 1 task\(s\) that ended more than 30 days ago .*kept 2/);
    assert.equal(wait, 12 * 3600 * 1000, 'the scheduler wakes at midnight, for the next cleanup');

    // The same day: a task now 41 days old stays until the next midnight's cleanup.
    const older = await endedTask(home, 3, NOON, 41);
    await s.tick();
    assert.ok((await taskFiles(home)).includes(`${older}.json`));
    clock.ms = NOON + 12 * 3600 * 1000;
    assert.equal(await s.tick(), DAY_MS, 'and then at the midnight after');
    const left = await taskFiles(home);
    assert.ok(!left.some((name) => name.startsWith(older)), 'removed at midnight');
    assert.ok(left.includes(`${recent}.json`) && left.includes(`${running}.json`));
  },
);

test(
  'without task-log-max-days nothing is removed; a broken node.cfg is reported once and the cleanup runs at the first tick after it is fixed',
  needsProc,
  async (t) => {
    const home = join(await tempDir(t), 'home');
    const clock = { ms: NOON };
    const old = await endedTask(home, 1, NOON, 40);
    const running = await runningTask(t, home, NOON);
    const all = [`${old}.json`, `${old}.log`, `${running}.json`, `${running}.log`];
    const lines: string[] = [];
    // No node.cfg at all, then one without the key: both keep every task.
    await scheduler(home, clock, lines).tick();
    assert.deepEqual(await taskFiles(home), all);
    await writeFile(nodeConfigPath(home), '# no settings yet\n');
    await scheduler(home, clock, lines).tick();
    assert.deepEqual(await taskFiles(home), all);
    assert.doesNotMatch(lines.join(''), /removed/);

    await writeFile(nodeConfigPath(home), 'task-log-max-days: 30d\n');
    const s = scheduler(home, clock, lines);
    await s.tick();
    await s.tick();
    assert.deepEqual(await taskFiles(home), all);
    const reports = lines.filter((line) => line.includes('node.cfg:1: key task-log-max-days'));
    assert.equal(reports.length, 1, lines.join(''));
    assert.match(reports[0] as string, /"level":"error"/);

    await writeFile(nodeConfigPath(home), 'task-log-max-days: 30\n');
    await s.tick();
    assert.deepEqual(await taskFiles(home), [`${running}.json`, `${running}.log`]);
  },
);
