import { setTimeout as sleep } from 'node:timers/promises';
import { lookupRemote } from '../config/index.js';
import { type ErrorCode, FerryError } from '../errors/index.js';
import type { RunnableJobKind } from '../protocol/index.js';
import { FerryClient, remoteConnection } from '../remote/index.js';
import { EXIT, failForStatus } from './exit-codes.js';
import type { Runtime } from './runtime.js';

const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  [EXIT.usage]: 'FERRY_ERR_CONFIG',
  [EXIT.notFound]: 'FERRY_ERR_NOT_FOUND',
  [EXIT.locked]: 'FERRY_ERR_LOCKED',
};

/** How often a remote run's task is read while it runs. */
const FOLLOW_INTERVAL_MS = 1000;

/**
 * `ferry sync-job run ID --remote NAME` (and `prune-job`, `verify-job`): starts the remote's job through its API (the
 * server runs it as its own process, as its scheduler would), and follows it (followRemoteRun).
 */
export async function runRemoteJob(
  rt: Runtime,
  remote: string,
  kind: RunnableJobKind,
  id: string,
): Promise<void> {
  await followRemoteRun(rt, remote, `${kind} job ${id}`, { kind, job: id }, (client) =>
    client.runJob(kind, id),
  );
}

/**
 * Starts a run on the remote (`start` answers its task id), prints the task's log lines as they come, and ends with
 * the task's exit status (3 when some groups of a sync failed). Interrupted here, it asks the server to stop the
 * task. `what` names the run in messages, `fields` in the JSON result. `ferry gc --remote` and `ferry verify
 * --remote` use it as the job runs do.
 */
export async function followRemoteRun(
  rt: Runtime,
  remote: string,
  what: string,
  fields: Record<string, unknown>,
  start: (client: FerryClient) => Promise<string>,
): Promise<void> {
  const client = new FerryClient({ ...remoteConnection(await lookupRemote(rt.home, remote)), log: rt.log });
  rt.onClose(() => client.close());
  const upid = await start(client);
  const name = `remote ${remote}: ${what}`;
  rt.log.info(`${name} started as task ${upid}`);
  let shown = 0;
  for (;;) {
    const { task, log } = await client.readTask(upid);
    for (const line of log.slice(shown)) process.stderr.write(`${line}\n`);
    shown = log.length;
    if (task.state !== 'running') {
      const status = task['exit-status'] ?? EXIT.failed;
      rt.print(
        { remote, ...fields, task: upid, state: task.state, exitStatus: status },
        () => `${name}: ${task.state} (exit status ${status}; task ${upid})`,
      );
      failForStatus(status, name);
      if (status !== EXIT.ok) {
        // The remote run's own status, as far as an error code carries it: locked, not found, config, or failed.
        const code = STATUS_CODES[status] ?? 'FERRY_ERR_INTERNAL';
        throw new FerryError(code, `${name} failed${task.message ? `: ${task.message}` : ''} (task ${upid})`);
      }
      return;
    }
    if (rt.signal.aborted) {
      await client.stopTask(upid).catch(() => undefined);
      throw new FerryError(
        'FERRY_ERR_ABORTED',
        `${name}: interrupted; asked the server to stop task ${upid}`,
      );
    }
    await sleep(FOLLOW_INTERVAL_MS, undefined, { signal: rt.signal }).catch(() => undefined);
  }
}
