import { open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../errors/index.js';
import {
  type Namespace,
  parseNamespace,
  parseStoreName,
  ROOT_NAMESPACE,
  type StoreName,
} from '../model/index.js';

/**
 * Task records under `$FERRY_HOME/tasks`: `<id>.json` (the record) and `<id>.log` (the task's log), written by the CLI
 * that runs the task (src/cli/task.ts) and read here by `ferry task` and by the server's task routes.
 */

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

/** A task id: `UPID:ferry:<pid>:<start>:<type>:<subject>:<random>` (hex pid and start time); captures type and subject. */
export const TASK_ID_RE = /^UPID:ferry:[0-9a-f]+:[0-9a-f]+:([a-z-]+):([A-Za-z0-9_.:-]*):[0-9a-f]+$/;

/**
 * A subject as a task id carries it: a namespace's `/` becomes `:` (no store name or namespace component holds one,
 * so a datastore task's id still names its namespace exactly), anything else outside `[A-Za-z0-9_.:-]` `_`.
 */
export function taskIdSubject(subject: string): string {
  return subject.replace(/\//g, ':').replace(/[^A-Za-z0-9_.:-]/g, '_');
}

/**
 * The longest subject a datastore task names its namespace in: the task's id is the name of its files, which may
 * not pass 255 bytes (the id holds about 45 more, the record's name `.json`).
 */
const MAX_NAMESPACED_SUBJECT = 200;

/**
 * The subject of a task that works on one datastore of this host (`gc`, `prune`, `verify`): the datastore, and for a
 * verification of a namespace `STORE:NS` (PBS's worker id). The server decides who may read or stop the task from
 * it (`datastoreOfTask`). A namespace too long to fit in the task's id is left out: the task is then the whole
 * datastore's.
 */
export function datastoreTaskSubject(store: StoreName, ns: Namespace = ROOT_NAMESPACE): string {
  const subject = ns === ROOT_NAMESPACE ? store : `${store}:${ns}`;
  return subject.length > MAX_NAMESPACED_SUBJECT ? store : subject;
}

/** The task types whose subject is `datastoreTaskSubject`'s; `prune` only without a namespace. */
const DATASTORE_TASK_TYPES: ReadonlySet<string> = new Set(['gc', 'prune', 'verify']);

/**
 * The datastore (and namespace) of this host a task works on, read from its id alone (so a permission check needs
 * no file), or undefined for a task that is the host's: a sync, a configured job's run (named by its job id), a prune
 * of a remote's datastore (`REMOTE:STORE`), anything not Ferry's.
 */
export function datastoreOfTask(id: string): { store: StoreName; ns: Namespace } | undefined {
  const [, type, subject] = TASK_ID_RE.exec(id) ?? [];
  if (type === undefined || subject === undefined || !DATASTORE_TASK_TYPES.has(type)) return undefined;
  const [store, ...ns] = subject.split(':');
  if (ns.length > 0 && type !== 'verify') return undefined;
  try {
    return { store: parseStoreName(store), ns: parseNamespace(ns.join('/')) };
  } catch {
    return undefined;
  }
}

export function tasksDir(home: string): string {
  return join(home, 'tasks');
}

export async function listTasks(home: string): Promise<TaskRecord[]> {
  const dir = tasksDir(home);
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

/**
 * Removes the tasks (record and log) that ended before `cutoff` (ms since the epoch); a task that ended without
 * recording its end counts from its start. A running task is never removed. The task logs are the only copy of what
 * a job did, so nothing is removed unless asked: `ferry task prune`, or `task-log-max-days` in node.cfg, by which
 * `ferry serve`'s scheduler removes them daily.
 */
export async function pruneTasks(home: string, cutoff: number): Promise<{ removed: number; kept: number }> {
  const dir = tasksDir(home);
  let removed = 0;
  let kept = 0;
  for (const record of await listTasks(home)) {
    const ended = Date.parse(record.ended ?? record.started);
    if (record.state === 'running' || !TASK_ID_RE.test(record.id) || !(ended < cutoff)) {
      kept++;
      continue;
    }
    // The log first: a record is never left pointing at a log that is gone.
    await rm(join(dir, `${record.id}.log`), { force: true });
    await rm(join(dir, `${record.id}.json`), { force: true });
    removed++;
  }
  return { removed, kept };
}

export async function readTask(home: string, id: string): Promise<{ record: TaskRecord; log: string }> {
  const record = await readTaskRecord(home, id);
  const log = await readFile(taskLogPath(home, id), 'utf8').catch(() => '');
  return { record, log };
}

/** A task's record as it stands (one recorded as running whose process is gone: ended, see `settled`). */
export async function readTaskRecord(home: string, id: string): Promise<TaskRecord> {
  checkTaskId(id);
  try {
    return await settled(
      JSON.parse(await readFile(join(tasksDir(home), `${id}.json`), 'utf8')) as TaskRecord,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new FerryError('FERRY_ERR_NOT_FOUND', `task ${id} does not exist`);
    throw err;
  }
}

function checkTaskId(id: string): void {
  if (!TASK_ID_RE.test(id))
    throw new FerryError('FERRY_ERR_INVALID_VALUE', `invalid task id ${JSON.stringify(id)}`);
}

function taskLogPath(home: string, id: string): string {
  return join(tasksDir(home), `${id}.log`);
}

/** How much of a task's log one read takes into memory: a long log is handed on piece by piece. */
const TAIL_READ_BYTES = 64 * 1024;

/**
 * A task's log read as it grows (`ferry task log --follow`): each `read` hands on the lines appended since the last
 * one, reading only those bytes, at most TAIL_READ_BYTES at a time, so a long log never sits in memory whole. A line
 * still being written (no newline yet: a write to the file may end mid-line) is held back until its newline comes, so no
 * line is handed on twice or cut in two, and a UTF-8 character split between two reads is joined again.
 */
export class TaskLogTail {
  private readonly path: string;
  private offset = 0;
  /** The bytes after the last newline read so far: the start of a line still being written. */
  private partial: Buffer = Buffer.alloc(0);

  constructor(home: string, id: string) {
    checkTaskId(id);
    this.path = taskLogPath(home, id);
  }

  /**
   * Reads to the end of the file as it is now and hands its complete lines to `onLines` (without their newlines),
   * piece by piece. With `ended` (the task has recorded its end, so its log is complete), a last line without a
   * newline is handed on too. A log not written yet reads as empty.
   */
  async read(onLines: (lines: string[]) => void, ended: boolean): Promise<void> {
    const file = await open(this.path, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (file !== undefined) {
      try {
        const buffer = Buffer.allocUnsafe(TAIL_READ_BYTES);
        for (;;) {
          const { bytesRead } = await file.read(buffer, 0, buffer.length, this.offset);
          if (bytesRead === 0) break;
          this.offset += bytesRead;
          const piece = Buffer.concat([this.partial, buffer.subarray(0, bytesRead)]);
          const end = piece.lastIndexOf(0x0a);
          // Copied: `buffer` is read into again.
          this.partial = Buffer.from(piece.subarray(end + 1));
          if (end >= 0) onLines(piece.toString('utf8', 0, end).split('\n'));
        }
      } finally {
        await file.close();
      }
    }
    if (ended && this.partial.length > 0) {
      onLines([this.partial.toString('utf8')]);
      this.partial = Buffer.alloc(0);
    }
  }
}

/**
 * Lines `start` on (0-based) of a task's log, as the API answers them: about `maxBytes` of them at most (at least one,
 * however long), read TAIL_READ_BYTES at a time, and the lines before `start` only counted, so neither a long log nor
 * a follower's many polls of it load it whole. `more` says the answer stopped before the log's end: ask again from
 * `start + lines.length`. A last line without its newline is still being written while the task runs and is left out
 * (an answer never holds half a line, which a follower counting lines would never see the rest of); once the task
 * has `ended`, its log is complete and that line is answered too. A log not written yet has no lines.
 */
export async function readTaskLogLines(
  home: string,
  id: string,
  start: number,
  options: { maxBytes: number; ended: boolean },
): Promise<{ lines: string[]; more: boolean }> {
  checkTaskId(id);
  const file = await open(taskLogPath(home, id), 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (file === undefined) return { lines: [], more: false };
  const lines: string[] = [];
  let bytes = 0;
  const room = (length: number) => lines.length === 0 || bytes + length <= options.maxBytes;
  try {
    const buffer = Buffer.allocUnsafe(TAIL_READ_BYTES);
    let offset = 0;
    let line = 0;
    /** The bytes after the last newline read so far, once past `start`: the start of a line read in part. */
    let partial: Buffer = Buffer.alloc(0);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      let from = 0;
      while (line < start) {
        const newline = buffer.indexOf(0x0a, from);
        if (newline < 0 || newline >= bytesRead) break;
        line++;
        from = newline + 1;
      }
      if (line < start) continue;
      const piece = Buffer.concat([partial, buffer.subarray(from, bytesRead)]);
      let at = 0;
      for (let newline = piece.indexOf(0x0a); newline >= 0; newline = piece.indexOf(0x0a, at)) {
        if (!room(newline - at)) return { lines, more: true };
        lines.push(piece.toString('utf8', at, newline));
        bytes += newline - at + 1;
        at = newline + 1;
      }
      // Copied: `buffer` is read into again.
      partial = Buffer.from(piece.subarray(at));
    }
    if (options.ended && partial.length > 0) {
      if (!room(partial.length)) return { lines, more: true };
      lines.push(partial.toString('utf8'));
    }
    return { lines, more: false };
  } finally {
    await file.close();
  }
}

/**
 * Asks a running task to stop (SIGTERM: it finishes its in-flight writes and publishes nothing partial). Refused when
 * the task has ended, or when its process is gone, or the pid now belongs to another process: that one is never
 * signalled.
 */
export async function stopTask(home: string, id: string): Promise<TaskRecord> {
  const record = await readTaskRecord(home, id);
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
export async function processStart(pid: number): Promise<number | undefined> {
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
