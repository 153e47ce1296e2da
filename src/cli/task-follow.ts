import { setTimeout as sleep } from 'node:timers/promises';
import { readTaskRecord, TaskLogTail, type TaskRecord } from '../config/index.js';
import { type ErrorCode, FerryError } from '../errors/index.js';
import type { TaskItem } from '../protocol/index.js';
import type { FerryClient } from '../remote/index.js';
import { EXIT } from './exit-codes.js';
import type { Runtime } from './runtime.js';

/**
 * Following a task while it runs, here or on a remote: `ferry task log ID --follow [--remote NAME]`, and the remote
 * runs (`sync-job run --remote`, `gc --remote`, …, src/cli/remote-run.ts). One loop over a TaskFeed with a local and
 * a remote implementation, as PBS's `task log` follows a task.
 */

/** A task to follow: each poll hands on the log lines written since the last one, then answers the task's record. */
export interface TaskFeed {
  /**
   * Reads the record, then the lines new since the last poll (in that order: a task's log is complete before its
   * end is recorded, so once the record says it ended, this poll has handed on the last line).
   */
  poll(show: (lines: readonly string[]) => void): Promise<TaskRecord>;
}

/** How often a local task's log is read while it runs. */
export const LOCAL_FOLLOW_INTERVAL_MS = 250;
/** How often a remote task is read while it runs (each read answers the lines new since the last). */
export const REMOTE_FOLLOW_INTERVAL_MS = 1000;

/** A task of this `$FERRY_HOME`: its record, and its log file read from where the last poll stopped. */
export function localTaskFeed(home: string, id: string): TaskFeed {
  const tail = new TaskLogTail(home, id);
  return {
    async poll(show) {
      const record = await readTaskRecord(home, id);
      await tail.read(show, record.state !== 'running');
      return record;
    },
  };
}

/**
 * A task of a remote and its log from line `from` on, through `GET …/tasks/{upid}?start=N`: only the lines past those
 * shown before cross the link (a server that answers from an earlier line, one older than `start`, has the ones
 * already shown skipped here), in as many answers as the server splits a long log into (`more`), each handed to
 * `show` as it comes. Answers the record as the first answer gave it (read there before the log: once it says the
 * task ended, the answers held all of its log) and the number of lines shown in all.
 */
export async function readRemoteTask(
  client: FerryClient,
  upid: string,
  from: number,
  show: (lines: readonly string[]) => void,
): Promise<{ task: TaskRecord; shown: number }> {
  let shown = from;
  let record: TaskItem | undefined;
  for (;;) {
    const { task, log, start = 0, more = false } = await client.readTask(upid, { start: shown });
    record ??= task;
    const fresh = log.slice(Math.max(0, shown - start));
    if (fresh.length > 0) show(fresh);
    shown = Math.max(shown, start + log.length);
    if (!more || log.length === 0) return { task: taskFromWire(record), shown };
  }
}

/** A task of a remote: each poll reads the lines past those shown before (readRemoteTask). */
export function remoteTaskFeed(client: FerryClient, upid: string): TaskFeed {
  let shown = 0;
  return {
    async poll(show) {
      const read = await readRemoteTask(client, upid, shown, show);
      shown = read.shown;
      return read.task;
    },
  };
}

/**
 * Polls `feed` every `intervalMs`, handing its new log lines to `show`, until the task ends; answers its final
 * record, or undefined when this process was interrupted first (the task itself is left alone: the caller decides).
 */
export async function followTask(
  rt: Pick<Runtime, 'signal'>,
  feed: TaskFeed,
  show: (lines: readonly string[]) => void,
  intervalMs: number,
): Promise<TaskRecord | undefined> {
  for (;;) {
    const record = await feed.poll(show);
    if (record.state !== 'running') return record;
    if (rt.signal.aborted) return undefined;
    await sleep(intervalMs, undefined, { signal: rt.signal }).catch(() => undefined);
  }
}

/** The exit status a task ended with: its own, else 0 when it ended ok (or with warnings) and 1 when it did not. */
export function taskExitStatus(record: TaskRecord): number {
  if (record.exitStatus !== undefined) return record.exitStatus;
  return record.state === 'ok' || record.state === 'warnings' ? EXIT.ok : EXIT.failed;
}

/** The error code whose exit status (src/cli/exit-codes.ts) is a task's own; other statuses exit 1. */
const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  [EXIT.usage]: 'FERRY_ERR_CONFIG',
  [EXIT.incomplete]: 'FERRY_ERR_SYNC_INCOMPLETE',
  [EXIT.notFound]: 'FERRY_ERR_NOT_FOUND',
  [EXIT.locked]: 'FERRY_ERR_LOCKED',
  [EXIT.unauthorized]: 'FERRY_ERR_UNAUTHORIZED',
  [EXIT.interrupted]: 'FERRY_ERR_ABORTED',
};

/** The error that makes this process exit with a task's non-zero exit `status` (1 for one it has no code for). */
export function errorForTaskStatus(status: number, message: string): FerryError {
  return new FerryError(STATUS_CODES[status] ?? 'FERRY_ERR_INTERNAL', message);
}

/** A task as the API gives it (`exit-status`), as the task records have it (`exitStatus`), so both print alike. */
export function taskFromWire(item: TaskItem): TaskRecord {
  return {
    id: item.id,
    type: item.type,
    subject: item.subject,
    pid: item.pid,
    ...(item.pstart !== undefined ? { pstart: item.pstart } : {}),
    started: item.started,
    ...(item.ended !== undefined ? { ended: item.ended } : {}),
    state: item.state as TaskRecord['state'],
    ...(item['exit-status'] !== undefined ? { exitStatus: item['exit-status'] } : {}),
    ...(item.message !== undefined ? { message: item.message } : {}),
  };
}
