import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  type JobRef,
  lockJob,
  processStart,
  recordJobRun,
  TASK_ID_RE,
  type TaskRecord,
  type TaskState,
  taskIdSubject,
  tasksDir,
} from '../config/index.js';
import { writeFileAtomic } from '../io/index.js';
import type { LogLine, LogMethods } from '../log/index.js';
import type { Clock } from '../model/index.js';
import type { RunnableJobKind } from '../protocol/index.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import type { Runtime } from './runtime.js';

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
  private readonly home: string;
  private readonly job: JobRef | undefined;

  private constructor(record: TaskRecord, home: string, clock: Clock, job: JobRef | undefined) {
    const dir = tasksDir(home);
    this.record = record;
    this.logPath = join(dir, `${record.id}.log`);
    this.statePath = join(dir, `${record.id}.json`);
    this.destination = pino.destination({ dest: this.logPath, sync: false, mkdir: true });
    this.clock = clock;
    this.home = home;
    this.job = job;
  }

  /**
   * Starts a task. With `job`, the task is a run of that scheduled job (a sync job, a datastore's GC): its start and
   * end go to the job's state, from which the scheduler counts the next run. The caller holds the job's lock.
   */
  static async start(home: string, type: string, subject: string, clock: Clock, job?: JobRef): Promise<Task> {
    const dir = tasksDir(home);
    await mkdir(dir, { recursive: true });
    const now = clock.now();
    const id = presetTaskId(type, subject) ?? taskUpid(type, subject, now);
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
      home,
      clock,
      job,
    );
    await task.save();
    await task.saveJobRun();
    return task;
  }

  write(lines: readonly LogLine[]): void {
    for (const line of lines) this.destination.write(`${formatTaskLine(line)}\n`);
  }

  /** Log methods for work that logs as it goes (verify): each info, warning and error line also goes to this task's log. */
  logMethods(also: LogMethods): LogMethods {
    const tee = (level: 'info' | 'warn' | 'error') =>
      ((fieldsOrMsg: unknown, msg?: string) => {
        const fields =
          typeof fieldsOrMsg === 'object' && fieldsOrMsg !== null ? ` ${JSON.stringify(fieldsOrMsg)}` : '';
        const text = typeof fieldsOrMsg === 'string' ? fieldsOrMsg : `${msg ?? ''}${fields}`;
        this.write([{ label: undefined, level, msg: text, time: this.clock.now() }]);
        const log = also[level] as (a: unknown, b?: string) => void;
        if (msg === undefined) log.call(also, fieldsOrMsg);
        else log.call(also, fieldsOrMsg, msg);
      }) as LogMethods['info'];
    return { debug: also.debug.bind(also), info: tee('info'), warn: tee('warn'), error: tee('error') };
  }

  async finish(state: TaskState, exitStatus: number, message?: string): Promise<void> {
    this.record.state = state;
    this.record.exitStatus = exitStatus;
    this.record.ended = new Date(this.clock.now()).toISOString();
    if (message !== undefined) this.record.message = message;
    await new Promise<void>((resolve) => this.destination.flush(() => resolve()));
    this.destination.end();
    await this.save();
    await this.saveJobRun();
  }

  /** Ends the task as failed by `err` (its exit status), or as aborted when `signal` says it was interrupted. */
  async failed(err: unknown, signal: AbortSignal): Promise<void> {
    const aborted = signal.aborted;
    await this.finish(
      aborted ? 'aborted' : 'error',
      aborted ? EXIT.interrupted : exitCodeFor(err),
      String(err),
    );
  }

  private async saveJobRun(): Promise<void> {
    if (this.job === undefined) return;
    const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);
    const { id, started, ended, state, exitStatus } = this.record;
    await recordJobRun(this.home, this.job.kind, this.job.id, {
      task: id,
      started: seconds(started),
      ...(ended !== undefined
        ? { ended: seconds(ended), state, ...(exitStatus !== undefined ? { exitStatus } : {}) }
        : {}),
    });
  }

  private async save(): Promise<void> {
    await writeFileAtomic(this.statePath, Buffer.from(`${JSON.stringify(this.record, null, 2)}\n`), {
      syncDir: false,
    });
  }
}

/**
 * The task type a run of each kind of configured job records (PBS's worker types); a server that starts a run with
 * its task id chosen (FERRY_TASK_ID) names the same type.
 */
export const JOB_TASK_TYPES: Readonly<Record<RunnableJobKind, string>> = {
  sync: 'syncjob',
  prune: 'prunejob',
  verify: 'verificationjob',
};

/**
 * The task id the process that started this one chose for it (`FERRY_TASK_ID`: a server runs a job for a request and
 * answers its id at once), if it names this task's type and subject; used once.
 */
function presetTaskId(type: string, subject: string): string | undefined {
  const preset = process.env['FERRY_TASK_ID'];
  if (preset === undefined || !TASK_ID_RE.test(preset)) return undefined;
  if (!preset.includes(`:${type}:${taskIdSubject(subject)}:`)) return undefined;
  delete process.env['FERRY_TASK_ID'];
  return preset;
}

/**
 * A task id in PBS's UPID style: `UPID:ferry:PID:STARTTIME:TYPE:SUBJECT:RANDOM` (hex pid, start time in hex epoch
 * seconds). Verification records it in each manifest's `verify_state`, where `verify --outdated-after` reads the time.
 */
export function taskUpid(type: string, subject: string, nowMs: number): string {
  return `UPID:ferry:${process.pid.toString(16)}:${Math.floor(nowMs / 1000).toString(16)}:${type}:${taskIdSubject(subject)}:${randomBytes(3).toString('hex')}`;
}

/**
 * Runs maintenance work (verify, prune, gc) as a task, as PBS does: `ferry task list` shows it, its log lines (through
 * the log methods it is given) go to `ferry task log` too, and it ends with the exit status `status` gives its
 * result (0: ok), or as failed or aborted when it throws.
 */
export async function runAsTask<T>(
  rt: Pick<Runtime, 'home' | 'clock' | 'log' | 'signal'>,
  type: string,
  subject: string,
  work: (task: Task, log: LogMethods) => Promise<T>,
  status: (result: T) => number,
  job?: JobRef,
): Promise<{ result: T; task: Task }> {
  return asJobRun(rt.home, job, async () => {
    const task = await Task.start(rt.home, type, subject, rt.clock, job);
    let result: T;
    try {
      result = await work(task, task.logMethods(rt.log));
    } catch (err) {
      await task.failed(err, rt.signal);
      throw err;
    }
    const code = status(result);
    await task.finish(code === EXIT.ok ? 'ok' : 'error', code);
    return { result, task };
  });
}

/**
 * Runs `body` as a run of a scheduled job (a sync job, a datastore's GC), holding the job's lock throughout: a second
 * run of the same job, by hand or by the scheduler, fails at once with FERRY_ERR_LOCKED naming the job. Without
 * `job`, just runs `body`.
 */
export async function asJobRun<T>(home: string, job: JobRef | undefined, body: () => Promise<T>): Promise<T> {
  if (job === undefined) return body();
  const lock = await lockJob(home, job.kind, job.id);
  try {
    return await body();
  } finally {
    await lock.release();
  }
}
