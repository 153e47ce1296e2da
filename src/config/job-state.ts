import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLock, type Lock, writeFileAtomic } from '../io/index.js';
import type { TaskState } from './tasks.js';

/**
 * The state of each scheduled job (a sync, prune or verify job, a datastore's garbage collection) under `$FERRY_HOME/jobstates`, as
 * PBS keeps its jobstates: when the scheduler first saw the job, and its last run (task id, start, end, state). The
 * next run is the schedule's first event after the last run's start (after the first sighting when it never ran),
 * so a run started by hand counts too, and a run missed while no server was up happens once when one starts.
 *
 * `<kind>-<id>.json` is the state, `<kind>-<id>.lock` the lock a run holds from start to end: one run of a job at a
 * time, whoever starts it.
 */

export type JobKind = 'sync' | 'gc' | 'prune' | 'verify';

/** One scheduled job: a sync, prune or verify job by its id, a datastore's GC by the datastore's name. */
export interface JobRef {
  kind: JobKind;
  id: string;
}

export interface JobRun {
  task: string;
  /** Epoch seconds. */
  started: number;
  ended?: number;
  state?: TaskState;
  exitStatus?: number;
}

export interface JobState {
  /** Epoch seconds: when the scheduler first saw the job. */
  created?: number;
  last?: JobRun;
}

/** Where a job's next run counts from: its last run's start, else when a scheduler first saw it, else now. */
export function nextRunBase(state: JobState, nowSeconds: number): number {
  return state.last?.started ?? state.created ?? nowSeconds;
}

export function jobStatesDir(home: string): string {
  return join(home, 'jobstates');
}

function jobFile(home: string, kind: JobKind, id: string, ext: 'json' | 'lock'): string {
  return join(jobStatesDir(home), `${kind}-${id}.${ext}`);
}

/** How a job is named in messages: `sync job nightly`, `garbage collection of store1`. */
export function jobName(kind: JobKind, id: string): string {
  return kind === 'gc' ? `garbage collection of ${id}` : `${kind} job ${id}`;
}

/** The job's state; empty when it has none yet, or when its file cannot be read (it is rebuilt by the next run). */
export async function readJobState(home: string, kind: JobKind, id: string): Promise<JobState> {
  try {
    const parsed = JSON.parse(await readFile(jobFile(home, kind, id, 'json'), 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as JobState) : {};
  } catch {
    return {};
  }
}

async function writeJobState(home: string, kind: JobKind, id: string, state: JobState): Promise<void> {
  await mkdir(jobStatesDir(home), { recursive: true });
  await writeFileAtomic(jobFile(home, kind, id, 'json'), Buffer.from(`${JSON.stringify(state)}\n`), {
    syncDir: false,
  });
}

/**
 * Records when the scheduler first saw a job, unless it has a state already; returns the state. Written under the
 * job's lock, so it never overwrites a run's record: while a run holds the lock, that run writes the state.
 */
export async function noteJobSeen(
  home: string,
  kind: JobKind,
  id: string,
  nowSeconds: number,
): Promise<JobState> {
  const state = await readJobState(home, kind, id);
  if (state.created !== undefined || state.last !== undefined) return state;
  let lock: Lock;
  try {
    lock = await lockJob(home, kind, id);
  } catch {
    return state;
  }
  try {
    const now = await readJobState(home, kind, id);
    if (now.created !== undefined || now.last !== undefined) return now;
    const seen = { created: nowSeconds };
    await writeJobState(home, kind, id, seen);
    return seen;
  } finally {
    await lock.release();
  }
}

/** Records a run's start (`last` = this run) or its end (the same run, with how it ended). */
export async function recordJobRun(home: string, kind: JobKind, id: string, run: JobRun): Promise<void> {
  const state = await readJobState(home, kind, id);
  await writeJobState(home, kind, id, { ...state, last: run });
}

export async function removeJobState(home: string, kind: JobKind, id: string): Promise<void> {
  await rm(jobFile(home, kind, id, 'json'), { force: true });
}

/** Takes the job's run lock, or fails at once (FERRY_ERR_LOCKED) while another run of it holds it. */
export async function lockJob(home: string, kind: JobKind, id: string): Promise<Lock> {
  return acquireLock(jobFile(home, kind, id, 'lock'), { what: jobName(kind, id) });
}
