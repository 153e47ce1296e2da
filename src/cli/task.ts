import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { FerryError } from '../errors/index.js';
import { writeFileAtomic } from '../io/index.js';
import type { LogLine } from '../log/index.js';
import type { Clock } from '../model/index.js';

export type TaskState = 'running' | 'ok' | 'warnings' | 'error' | 'aborted';

export interface TaskRecord {
  id: string;
  type: string;
  /** What it works on: the sync job id, the datastore… */
  subject: string;
  pid: number;
  /**
   * When the process started, in clock ticks since boot (Linux: field 22 of /proc/<pid>/stat), as PBS's UPID keeps
   * it: with the pid it names one process, so a later process that was given the same pid is not taken for the
   * task's. Absent where there is no /proc.
   */
  pstart?: number;
  started: string;
  ended?: string;
  state: TaskState;
  exitStatus?: number;
  message?: string;
}

const TASK_ID_RE = /^UPID:ferry:[0-9a-f]+:[0-9a-f]+:[a-z-]+:[A-Za-z0-9_.:-]*:[0-9a-f]+$/;

/** Formats one task log line: `<RFC3339 time> [vm/100]: <message>`, job lines without a label. */
export function formatTaskLine(line: LogLine): string {
  const time = new Date(line.time).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const level = line.level === 'info' ? '' : `${line.level.toUpperCase()}: `;
  return line.label === undefined
    ? `${time} ${level}${line.msg}`
    : `${time} [${line.label}]: ${level}${line.msg}`;
}

/**
 * A task: an id in PBS's UPID style, a log file `$FERRY_HOME/tasks/<id>.log` written through pino's destination, and
 * a state file `<id>.json` that `ferry task list` reads.
 */
export class Task {
  readonly record: TaskRecord;
  readonly logPath: string;
  private readonly statePath: string;
  private readonly destination: ReturnType<typeof pino.destination>;
  private readonly clock: Clock;

  private constructor(record: TaskRecord, dir: string, clock: Clock) {
    this.record = record;
    this.logPath = join(dir, `${record.id}.log`);
    this.statePath = join(dir, `${record.id}.json`);
    this.destination = pino.destination({ dest: this.logPath, sync: false, mkdir: true });
    this.clock = clock;
  }

  static async start(home: string, type: string, subject: string, clock: Clock): Promise<Task> {
    const dir = join(home, 'tasks');
    await mkdir(dir, { recursive: true });
    const now = clock.now();
    const id = `UPID:ferry:${process.pid.toString(16)}:${Math.floor(now / 1000).toString(16)}:${type}:${subject.replace(/[^A-Za-z0-9_.:-]/g, '_')}:${randomBytes(3).toString('hex')}`;
    const pstart = await processStart(process.pid);
    const task = new Task(
      {
        id,
        type,
        subject,
        pid: process.pid,
        ...(pstart !== undefined ? { pstart } : {}),
        started: new Date(now).toISOString(),
        state: 'running',
      },
      dir,
      clock,
    );
    await task.save();
    return task;
  }

  write(lines: readonly LogLine[]): void {
    for (const line of lines) this.destination.write(`${formatTaskLine(line)}\n`);
  }

  async finish(state: TaskState, exitStatus: number, message?: string): Promise<void> {
    this.record.state = state;
    this.record.exitStatus = exitStatus;
    this.record.ended = new Date(this.clock.now()).toISOString();
    if (message !== undefined) this.record.message = message;
    await new Promise<void>((resolve) => this.destination.flush(() => resolve()));
    this.destination.end();
    await this.save();
  }

  private async save(): Promise<void> {
    await writeFileAtomic(this.statePath, Buffer.from(`${JSON.stringify(this.record, null, 2)}\n`), {
      syncDir: false,
    });
  }
}

export async function listTasks(home: string): Promise<TaskRecord[]> {
  const dir = join(home, 'tasks');
  const names = await readdir(dir).catch(() => [] as string[]);
  const records: TaskRecord[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    try {
      records.push(await settled(JSON.parse(await readFile(join(dir, name), 'utf8')) as TaskRecord));
    } catch {
      // a state file being written right now
    }
  }
  return records.sort((a, b) => a.started.localeCompare(b.started));
}

export async function readTask(home: string, id: string): Promise<{ record: TaskRecord; log: string }> {
  if (!TASK_ID_RE.test(id))
    throw new FerryError('FERRY_ERR_INVALID_VALUE', `invalid task id ${JSON.stringify(id)}`);
  const dir = join(home, 'tasks');
  try {
    const record = await settled(JSON.parse(await readFile(join(dir, `${id}.json`), 'utf8')) as TaskRecord);
    const log = await readFile(join(dir, `${id}.log`), 'utf8').catch(() => '');
    return { record, log };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new FerryError('FERRY_ERR_NOT_FOUND', `task ${id} does not exist`);
    throw err;
  }
}

/**
 * Asks a running task to stop (SIGTERM: it finishes its in-flight writes and publishes nothing partial). Refused when
 * the task has ended, or when its process is gone, or the pid now belongs to another process: that one is never
 * signalled.
 */
export async function stopTask(home: string, id: string): Promise<TaskRecord> {
  const { record } = await readTask(home, id);
  if (record.state !== 'running') {
    const why = record.message === undefined ? record.state : `${record.state}: ${record.message}`;
    throw new FerryError('FERRY_ERR_INVALID_VALUE', `task ${id} is not running (${why})`);
  }
  try {
    process.kill(record.pid, 'SIGTERM');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM')
      throw new FerryError(
        'FERRY_ERR_FORBIDDEN',
        `task ${id}: not allowed to signal its process ${record.pid}`,
      );
    throw new FerryError('FERRY_ERR_NOT_FOUND', `task ${id}: its process ${record.pid} is gone`);
  }
  return record;
}

/**
 * The record as it stands: a task recorded as running whose process is gone (killed, or the machine restarted) ended
 * without saying how, so it is shown as failed.
 */
async function settled(record: TaskRecord): Promise<TaskRecord> {
  if (record.state !== 'running' || (await taskProcessRuns(record))) return record;
  return { ...record, state: 'error', message: record.message ?? 'the task ended without recording its end' };
}

/** True while the task's own process runs: its pid is alive and, where the record has it, started when it did. */
async function taskProcessRuns(record: TaskRecord): Promise<boolean> {
  try {
    process.kill(record.pid, 0);
  } catch (err) {
    // EPERM: alive but not ours to signal; whether it is the task's process, its start time tells.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (record.pstart === undefined) return true;
  const now = await processStart(record.pid);
  return now === undefined || now === record.pstart;
}

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat); undefined without /proc. */
async function processStart(pid: number): Promise<number | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces or ')': fields after it follow the last ')'.
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}
