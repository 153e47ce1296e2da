import {
  type DatastoreAccess,
  type JobRef,
  lookupDatastore,
  lookupRemote,
  type SyncJob,
} from '../config/index.js';
import type { LogLine } from '../log/index.js';
import { formatBytes } from '../model/index.js';
import { remoteConnection } from '../remote/index.js';
import { EndpointOpener, type EndpointSpec, runSync, type SyncSummary } from '../sync/index.js';
import { EXIT } from './exit-codes.js';
import { ProgressDisplay } from './progress-display.js';
import type { Runtime } from './runtime.js';
import { asJobRun, JOB_TASK_TYPES, Task } from './task.js';

/** The name `-` (or no remote in a job) means "this host": a sync between two local datastores. */
export const LOCAL_REMOTE = '-';

/** Connections per worker thread's client: enough batches in flight to hide a WAN round trip. */
const CONNECTIONS_PER_THREAD = 4;

/** Whether a remote name (or none, in a job) means this host. */
export function isLocalRemote(remote: string | undefined): remote is undefined | typeof LOCAL_REMOTE {
  return remote === undefined || remote === LOCAL_REMOTE;
}

/** One end of a sync job as configured: a datastore (of `remote`, or of this host), and whether the job writes it. */
export interface SyncEnd {
  remote: string | undefined;
  store: string;
  access: DatastoreAccess;
}

/** A sync job's local end and its other end, in that order: a pull writes its local end, a push reads it. */
export function syncEnds(job: SyncJob): [local: SyncEnd, other: SyncEnd] {
  const pull = job.direction === 'pull';
  return [
    { remote: undefined, store: job.store, access: pull ? 'write' : 'read' },
    { remote: job.remote, store: job.remoteStore, access: pull ? 'read' : 'write' },
  ];
}

/** One end of a sync: a local datastore (checked against its maintenance mode: `access`) or a remote's. */
async function endpoint(
  rt: Runtime,
  remote: string | undefined,
  store: string,
  access: DatastoreAccess,
): Promise<EndpointSpec> {
  if (isLocalRemote(remote)) {
    const entry = await lookupDatastore(rt.home, store, access, access === 'write' ? 'sync into it' : 'sync');
    return { kind: 'local', store, path: entry.path };
  }
  const connection = remoteConnection(await lookupRemote(rt.home, remote));
  return {
    kind: 'remote',
    remote,
    store,
    url: connection.url,
    authId: connection.authId,
    secret: connection.secret,
    fingerprint: connection.fingerprint,
    connections: CONNECTIONS_PER_THREAD,
  };
}

/**
 * Runs a sync job as a task: resolves both ends, logs to the task log and the console (with progress bars on a
 * terminal), prints the summary (the last stdout line with --output-format json) and returns the exit status:
 * 0, 3 when some groups failed, 130 when interrupted.
 */
export async function runSyncTask(
  rt: Runtime,
  job: SyncJob,
  options: { progress: boolean; configured?: boolean },
): Promise<number> {
  const jobRef: JobRef | undefined = options.configured === true ? { kind: 'sync', id: job.id } : undefined;
  return asJobRun(rt.home, jobRef, async () => {
    const task = await Task.start(rt.home, JOB_TASK_TYPES.sync, job.id, rt.clock, jobRef);
    let ends: [EndpointSpec, EndpointSpec];
    try {
      // Resolved inside the task: a job whose remote or datastore is gone fails as a task that says so.
      const [localEnd, otherEnd] = syncEnds(job);
      const local = await endpoint(rt, localEnd.remote, localEnd.store, localEnd.access);
      const other = await endpoint(rt, otherEnd.remote, otherEnd.store, otherEnd.access);
      ends = job.direction === 'pull' ? [other, local] : [local, other];
    } catch (err) {
      await task.failed(err, rt.signal);
      throw err;
    }
    return runInTask(rt, job, task, ends, options.progress);
  });
}

async function runInTask(
  rt: Runtime,
  job: SyncJob,
  task: Task,
  [source, target]: [EndpointSpec, EndpointSpec],
  progress: boolean,
): Promise<number> {
  const display = new ProgressDisplay(process.stderr, progress);
  const opener = new EndpointOpener(rt.clock, rt.log);
  let summary: SyncSummary | undefined;
  try {
    const sink = (lines: LogLine[]) => {
      task.write(lines);
      display.log(lines);
    };
    summary = await runSync({
      job,
      source,
      target,
      opener,
      clock: rt.clock,
      signal: rt.signal,
      sink,
      onProgress: (p) => display.update(p),
    });
  } catch (err) {
    display.stop();
    await task.failed(err, rt.signal);
    throw err;
  } finally {
    display.stop();
    await opener.close();
  }
  const status = summary.aborted ? EXIT.interrupted : summary.groups.failed > 0 ? EXIT.incomplete : EXIT.ok;
  await task.finish(summary.aborted ? 'aborted' : status === EXIT.ok ? 'ok' : 'error', status);
  // Peak resident memory of this process, worker threads included (maxRSS is in KiB).
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  rt.print({ ...summary, task: task.record.id, peakRssBytes }, () =>
    formatSummary(summary as SyncSummary, task.record.id, peakRssBytes),
  );
  return status;
}

export function formatSummary(s: SyncSummary, taskId: string, peakRssBytes: number): string {
  const lines = [
    `sync job ${s.job} (${s.direction}, ${s.workerThreads} worker thread(s)): ${s.source} → ${s.target}`,
    `  groups:    ${s.groups.ok} ok, ${s.groups.failed} failed (of ${s.groups.total})${s.aborted ? ', interrupted' : ''}`,
    `  snapshots: ${s.snapshots.synced} synced, ${s.snapshots.unchanged} unchanged`,
    `  chunks:    ${s.chunks.fetched} fetched (${formatBytes(s.bytes.fetched)}), ${s.chunks.reused} reused (${formatBytes(s.bytes.reused)}; ${s.chunks.proven} proven)`,
    `  time:      ${s.wallSeconds.toFixed(1)} s wall, ${formatBytes(s.bytesPerSecond)}/s`,
  ];
  if (s.removed.snapshots + s.removed.groups + s.removed.namespaces > 0) {
    lines.push(
      `  removed:   ${s.removed.snapshots} snapshots, ${s.removed.groups} groups, ${s.removed.namespaces} namespaces (vanished)`,
    );
  }
  for (const f of s.failed) lines.push(`  failed:    ${f.error}`);
  lines.push(`  memory:    ${formatBytes(peakRssBytes)} peak RSS`);
  lines.push(`  task:      ${taskId}`);
  return lines.join('\n');
}
