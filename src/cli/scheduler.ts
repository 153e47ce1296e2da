import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  checkMaintenance,
  type DatastoreAccess,
  type JobKind,
  jobName,
  type MaintenanceMode,
  maintenanceOf,
  nextRunBase,
  noteJobSeen,
  pruneTasks,
  readDatastoreConfig,
  readMaintenanceJobs,
  readNodeConfig,
  readSyncConfig,
  tasksDir,
} from '../config/index.js';
import { FerryError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { type CalendarEvent, type Clock, nextCalendarEvent, parseCalendarEvent } from '../model/index.js';
import type { RunnableJobKind } from '../protocol/index.js';
import { EXIT } from './exit-codes.js';
import { isLocalRemote, syncEnds } from './sync-runner.js';
import { taskUpid } from './task.js';

/**
 * The scheduler of `ferry serve`, as PBS's proxy runs its jobs: every sync job with a `schedule` (sync.cfg), prune job
 * (prune.cfg; not `disable`d) and verify job with one (verification.cfg), and every datastore with a `gc-schedule`
 * (datastore.cfg) runs when its calendar event elapses after its last run.
 *
 * - The last run is read from the job's state (`$FERRY_HOME/jobstates`), which every run writes, whoever started it:
 *   a run by hand (`ferry sync-job run`, `ferry gc`) counts, and the next is due at the first event after its start.
 *   A job never run counts from when the scheduler first saw it, so a new job does not run at once.
 * - A run missed while no server was up happens once, when the scheduler next looks.
 * - Each run is its own process (`ferry sync-job run ID`, `ferry prune-job run ID`, `ferry gc STORE`…), started by
 *   the JobLauncher (which also starts the runs asked for through the API): a task with its log in `ferry task`,
 *   under the job's lock (a second run of the same job, by hand or scheduled, is refused), its memory and its
 *   threads its own, and a crash of it costs the server nothing.
 * - The configuration is read afresh each time the scheduler looks: at the earliest next event, and at least every
 *   minute, so a new or changed schedule is taken up within a minute without a restart.
 * - On stop, running jobs are asked to stop (SIGTERM: each finishes its in-flight writes, publishes nothing
 *   partial and records its task as aborted), and the scheduler waits for them.
 * - With `task-log-max-days` in node.cfg, the tasks (record and log) that ended longer ago are removed when the
 *   scheduler starts and then daily at midnight, as PBS's proxy rotates its task logs. That is a few file removals,
 *   so it runs here, in the server's process, not as a job with a task, lock and state of its own.
 */

/** A job run as its own process: what it is and the CLI arguments that run it. */
export interface LaunchedJob {
  kind: JobKind;
  id: string;
  args: string[];
  /** For a run that is not a configured job (a verification asked for through the API): its name in logs. */
  label?: string;
}

/** A launched job's key among the running ones, and its name in logs. */
function runKey(job: LaunchedJob): string {
  return job.label ?? `${job.kind}-${job.id}`;
}
function runName(job: LaunchedJob): string {
  return job.label ?? jobName(job.kind, job.id);
}

/** A configured job as the process that runs it: `ferry sync-job run ID --no-progress`, `ferry prune-job run ID`… */
export function configuredJob(kind: RunnableJobKind, id: string): LaunchedJob {
  return { kind, id, args: [`${kind}-job`, 'run', id, ...(kind === 'sync' ? ['--no-progress'] : [])] };
}

/** A datastore's garbage collection as the process that runs it: `ferry gc STORE`. */
export function gcJob(store: string): LaunchedJob {
  return { kind: 'gc', id: store, args: ['gc', store] };
}

/** A job the scheduler runs: a launched job with its schedule, and the local datastores it reads or changes. */
export interface ScheduledJob extends LaunchedJob {
  schedule: string;
  stores: { store: string; access: DatastoreAccess }[];
}

export interface SchedulerOptions {
  home: string;
  clock: Clock;
  log: Logger;
  /** Starts the runs. */
  launcher: JobLauncher;
  /** IANA time zone of the calendar events; undefined: the host's. */
  timeZone?: string;
  /** The longest wait between two looks at the configuration. */
  maxSleepMs?: number;
}

/** A run started by the launcher: its process, its exit status once it ends, and the end of its stderr so far. */
export interface Run {
  child: ChildProcess;
  closed: Promise<number | null>;
  stderrTail(): string;
}

export interface LauncherOptions {
  home: string;
  log: Logger;
  /** How to start the CLI: the Node binary and the arguments before the command (flags and the CLI's script). */
  cli: { command: string; args: string[] };
}

const MAX_SLEEP_MS = 60_000;
/** When old task logs are removed (besides at start): PBS's daily task-log rotation. */
const TASK_LOG_CLEANUP = parseCalendarEvent('daily');
const DAY_MS = 86_400_000;
/** How long a run asked for through the API may take to record its task. */
const RUN_START_TIMEOUT_MS = 30_000;
/** The tail of a job's stderr kept for the server's log when it fails. */
const STDERR_TAIL = 2048;

/** The scheduled jobs configured in `home`; a file that cannot be read is reported through `onError` and skipped. */
export async function scheduledJobs(
  home: string,
  onError: (file: string, err: unknown) => void,
): Promise<ScheduledJob[]> {
  const jobs: ScheduledJob[] = [];
  try {
    for (const job of await readSyncConfig(home)) {
      if (job.schedule === undefined) continue;
      const stores = syncEnds(job)
        .filter((end) => isLocalRemote(end.remote))
        .map(({ store, access }) => ({ store, access }));
      jobs.push({ ...configuredJob('sync', job.id), schedule: job.schedule, stores });
    }
  } catch (err) {
    onError('sync.cfg', err);
  }
  for (const kind of ['prune', 'verify'] as const) {
    try {
      for (const job of await readMaintenanceJobs(home, kind)) {
        if (job.schedule === undefined || job.disabled) continue;
        const access = kind === 'prune' ? 'write' : 'read';
        jobs.push({
          ...configuredJob(kind, job.id),
          schedule: job.schedule,
          stores: [{ store: job.store, access }],
        });
      }
    } catch (err) {
      onError(kind === 'prune' ? 'prune.cfg' : 'verification.cfg', err);
    }
  }
  try {
    for (const store of await readDatastoreConfig(home)) {
      const schedule = store['gc-schedule'];
      if (schedule === undefined) continue;
      const stores = [{ store: store.name, access: 'write' as const }];
      jobs.push({ ...gcJob(store.name), schedule, stores });
    }
  } catch (err) {
    onError('datastore.cfg', err);
  }
  return jobs;
}

export class Scheduler {
  private readonly options: SchedulerOptions;
  /** The due time each job was last started for: a run that fails before it records itself is not started again. */
  private readonly startedFor = new Map<string, number>();
  /** Configuration errors already logged, so a broken file is reported once, not every minute. */
  private readonly reported = new Set<string>();
  /** The due time each job was last skipped for (maintenance), so each skip is logged once. */
  private readonly skippedFor = new Map<string, number>();
  /** When the task logs were last cleaned up (epoch seconds); undefined until the first cleanup, due at once. */
  private lastCleanup: number | undefined;

  constructor(options: SchedulerOptions) {
    this.options = options;
  }

  /** Runs until `signal` aborts, then stops the jobs it started and waits for them. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let waitMs: number;
      try {
        waitMs = await this.tick();
      } catch (err) {
        this.options.log.error({ err }, 'scheduler: %s', String(err));
        waitMs = this.options.maxSleepMs ?? MAX_SLEEP_MS;
      }
      await sleep(waitMs, undefined, { signal }).catch(() => undefined);
    }
    await this.options.launcher.stopAll();
  }

  /** Starts the jobs that are due; returns how long to wait before looking again (ms). */
  async tick(): Promise<number> {
    const { home, clock, log, timeZone } = this.options;
    const nowMs = clock.now();
    const now = Math.floor(nowMs / 1000);
    let earliest = Number.POSITIVE_INFINITY;
    const seen = new Set<string>();
    const jobs = await scheduledJobs(home, (file, err) => this.reportOnce(`${file}: ${String(err)}`));
    const modes = await maintenanceModes(home);
    for (const job of jobs) {
      const key = runKey(job);
      seen.add(key);
      let event: CalendarEvent;
      try {
        event = parseCalendarEvent(job.schedule);
      } catch (err) {
        this.reportOnce(`${jobName(job.kind, job.id)}: ${String(err)}`);
        continue;
      }
      const state = await noteJobSeen(home, job.kind, job.id, now);
      const last = Math.max(nextRunBase(state, now), this.startedFor.get(key) ?? 0);
      const due = nextCalendarEvent(event, last, timeZone);
      if (due === undefined) continue;
      if (due > now) {
        earliest = Math.min(earliest, due);
        continue;
      }
      // Still at its last run: the next is due after that one's start.
      if (this.options.launcher.isRunning(job)) continue;
      // A datastore in maintenance that would refuse the run: not started, so it runs (once) when the maintenance ends.
      const refusal = maintenanceRefusal(job, modes);
      if (refusal !== undefined) {
        if (this.skippedFor.get(key) !== due)
          log.info({ job: key }, `scheduler: not starting ${jobName(job.kind, job.id)} yet: ${refusal}`);
        this.skippedFor.set(key, due);
        continue;
      }
      this.skippedFor.delete(key);
      this.startedFor.set(key, due);
      log.info(
        { job: key, schedule: job.schedule },
        `scheduler: starting ${jobName(job.kind, job.id)} (schedule "${job.schedule}", due ${new Date(due * 1000).toISOString()})`,
      );
      this.options.launcher.launch(job, 'scheduler');
      const after = nextCalendarEvent(event, due, timeZone);
      if (after !== undefined) earliest = Math.min(earliest, after);
    }
    for (const key of this.startedFor.keys()) if (!seen.has(key)) this.startedFor.delete(key);
    for (const key of this.skippedFor.keys()) if (!seen.has(key)) this.skippedFor.delete(key);
    // After the jobs, so none waits for it.
    const cleanup =
      this.lastCleanup === undefined ? now : nextCalendarEvent(TASK_LOG_CLEANUP, this.lastCleanup, timeZone);
    if (cleanup !== undefined && cleanup <= now && (await this.cleanUpTaskLogs(nowMs)))
      this.lastCleanup = now;
    const nextCleanup =
      this.lastCleanup === undefined
        ? undefined
        : nextCalendarEvent(TASK_LOG_CLEANUP, this.lastCleanup, timeZone);
    if (nextCleanup !== undefined) earliest = Math.min(earliest, nextCleanup);
    const maxMs = this.options.maxSleepMs ?? MAX_SLEEP_MS;
    // Wake at the second the next event elapses (or a little after, never before it).
    return Math.max(0, Math.min(maxMs, earliest * 1000 - nowMs));
  }

  /**
   * Removes the tasks that ended more than `task-log-max-days` ago (node.cfg, read afresh; unset: none). False when it
   * could not (node.cfg is broken, the tasks cannot be read): reported, and tried again at the next look.
   */
  private async cleanUpTaskLogs(nowMs: number): Promise<boolean> {
    const { home, log } = this.options;
    let maxDays: number | undefined;
    try {
      maxDays = (await readNodeConfig(home))['task-log-max-days'];
    } catch (err) {
      this.reportOnce(`node.cfg: ${String(err)}`);
      return false;
    }
    if (maxDays === undefined) return true;
    const cutoff = nowMs - maxDays * DAY_MS;
    try {
      const { removed, kept } = await pruneTasks(home, cutoff);
      log.info(
        { removed, kept, taskLogMaxDays: maxDays },
        `scheduler: removed ${removed} task(s) that ended more than ${maxDays} days ago (before ${new Date(cutoff).toISOString()}), kept ${kept}`,
      );
      return true;
    } catch (err) {
      this.reportOnce(`task-log cleanup: ${String(err)}`);
      return false;
    }
  }

  private reportOnce(message: string): void {
    if (this.reported.has(message)) return;
    this.reported.add(message);
    this.options.log.error(`scheduler: ${message}`);
  }
}

/**
 * Starts job runs as their own `ferry` processes (the scheduler's, and those asked for through the API), keeps track of
 * them, and logs how each ended (with the tail of its stderr when it failed).
 */
export class JobLauncher {
  private readonly options: LauncherOptions;
  private readonly running = new Map<string, ChildProcess>();

  constructor(options: LauncherOptions) {
    this.options = options;
  }

  isRunning(job: LaunchedJob): boolean {
    return this.running.has(runKey(job));
  }

  /** Starts a run; `by` says who asked, in the log; `env` is added to the run's environment. */
  launch(job: LaunchedJob, by: string, env: Record<string, string> = {}): Run {
    const { cli, home, log } = this.options;
    const key = runKey(job);
    const child = spawn(cli.command, [...cli.args, '--home', home, ...job.args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.running.set(key, child);
    let tail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      tail = (tail + text).slice(-STDERR_TAIL);
    });
    const name = runName(job);
    child.on('error', (err) => log.error({ job: key, err }, `${by}: ${name}: cannot start: ${err.message}`));
    const closed = new Promise<number | null>((resolve) => {
      child.on('close', (code, signal) => {
        if (this.running.get(key) === child) this.running.delete(key);
        if (code === 0) log.info({ job: key }, `${by}: ${name} finished`);
        else {
          const how = code === null ? `killed by ${signal}` : `exit status ${code}`;
          log.warn({ job: key, code, signal }, `${by}: ${name} ended with ${how}${lastLines(tail)}`);
        }
        resolve(code);
      });
    });
    return { child, closed, stderrTail: () => tail };
  }

  /**
   * Runs a job now, for a request (`POST /admin/{kind}/{id}/run`, `…/datastore/{store}/gc`, `…/verify`): starts it
   * with its task id chosen here (FERRY_TASK_ID; `task` is the type and subject the run records its task under), and
   * answers that id once the run has recorded its task, or fails with why it could not start (another run holds the
   * job's lock: FERRY_ERR_LOCKED).
   */
  async runNow(job: LaunchedJob, task: { type: string; subject: string }, nowMs: number): Promise<string> {
    if (this.isRunning(job))
      throw new FerryError('FERRY_ERR_LOCKED', `${runName(job)} is running already (started by this server)`);
    const upid = taskUpid(task.type, task.subject, nowMs);
    const run = this.launch(job, 'request', { FERRY_TASK_ID: upid });
    const record = join(tasksDir(this.options.home), `${upid}.json`);
    const recorded = () =>
      access(record).then(
        () => true,
        () => false,
      );
    const deadline = performance.now() + RUN_START_TIMEOUT_MS;
    const waiting = Symbol('waiting');
    while (!(await recorded())) {
      const code = await Promise.race([run.closed, sleep(50, waiting)]);
      if (code !== waiting && !(await recorded())) {
        const why = lastLines(run.stderrTail()).replace(/^: /, '') || `exit status ${code}`;
        throw new FerryError(
          code === EXIT.locked ? 'FERRY_ERR_LOCKED' : 'FERRY_ERR_INTERNAL',
          `${runName(job)} did not start: ${why}`,
        );
      }
      if (performance.now() > deadline)
        throw new FerryError(
          'FERRY_ERR_TIMEOUT',
          `${runName(job)}: no task recorded within ${RUN_START_TIMEOUT_MS / 1000} s`,
        );
    }
    return upid;
  }

  /** Asks every running job to stop (SIGTERM) and waits for them. */
  async stopAll(): Promise<void> {
    const children = [...this.running.values()];
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((child) =>
        child.exitCode !== null || child.signalCode !== null ? undefined : once(child, 'close'),
      ),
    );
  }
}

/** Each configured datastore's maintenance mode (none when datastore.cfg cannot be read: scheduledJobs reports that). */
async function maintenanceModes(home: string): Promise<Map<string, MaintenanceMode | undefined>> {
  const entries = await readDatastoreConfig(home).catch(() => []);
  return new Map(entries.map((e) => [e.name, maintenanceOf(e)]));
}

/** Why a datastore's maintenance mode would refuse `job`, or undefined. */
function maintenanceRefusal(
  job: ScheduledJob,
  modes: ReadonlyMap<string, MaintenanceMode | undefined>,
): string | undefined {
  for (const { store, access } of job.stores) {
    try {
      checkMaintenance(store, modes.get(store), access);
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }
  return undefined;
}

/** The last lines of a run's stderr, for a log line: `: line | line`, or nothing. */
function lastLines(tail: string): string {
  const text = tail.trim();
  return text === '' ? '' : `: ${text.split('\n').slice(-3).join(' | ')}`;
}
