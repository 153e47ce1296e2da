/**
 * Task records for tests, written as `ferry` writes them (`$FERRY_HOME/tasks/<id>.json` and `.log`), and real
 * processes to stand for a task's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** A real process to stand for a task's (or a stranger holding its pid); killed when the test ends. */
export function bystander(t: TestContext): ChildProcess {
  const child = spawn('sleep', ['120'], { stdio: 'ignore' });
  t.after(() => {
    child.kill('SIGKILL');
  });
  return child;
}

/** A process's start time in clock ticks since boot, read here independently of the code under test. */
export async function startTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

/** Writes a task record (and its log, when given); returns its id. */
export async function writeTaskRecord(
  home: string,
  record: { id: string } & Record<string, unknown>,
  log?: string,
): Promise<string> {
  const dir = join(home, 'tasks');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${record.id}.json`), JSON.stringify(record));
  if (log !== undefined) await writeFile(join(dir, `${record.id}.log`), log);
  return record.id;
}

/** A host task that ended ok: sync job `nightly`'s run of 2026-11-27 01:00. */
export const FINISHED_SYNC_TASK = {
  id: 'UPID:ferry:1f00:6a000000:syncjob:nightly:0000aa',
  type: 'syncjob',
  subject: 'nightly',
  pid: 7936,
  started: '2026-11-27T01:00:00.000Z',
  ended: '2026-11-27T01:02:00.000Z',
  state: 'ok',
  exitStatus: 0,
};

/** Records a running task of `type` about `subject`, run by the live process `pid` (its real start time); its id. */
export async function writeRunningTask(
  home: string,
  pid: number,
  type: string,
  subject: string,
  suffix: string,
): Promise<string> {
  return writeTaskRecord(home, {
    id: `UPID:ferry:${pid.toString(16)}:6a000100:${type}:${subject}:${suffix}`,
    type,
    subject,
    pid,
    pstart: await startTicks(pid),
    started: '2026-11-27T02:00:00.000Z',
    state: 'running',
  });
}
