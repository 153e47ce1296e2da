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
    const task = new Task(
      { id, type, subject, pid: process.pid, started: new Date(now).toISOString(), state: 'running' },
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
      const record = JSON.parse(await readFile(join(dir, name), 'utf8')) as TaskRecord;
      if (record.state === 'running' && !processAlive(record.pid)) record.state = 'error';
      records.push(record);
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
    const record = JSON.parse(await readFile(join(dir, `${id}.json`), 'utf8')) as TaskRecord;
    const log = await readFile(join(dir, `${id}.log`), 'utf8').catch(() => '');
    return { record, log };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new FerryError('FERRY_ERR_NOT_FOUND', `task ${id} does not exist`);
    throw err;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
