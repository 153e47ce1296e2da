import { FerryError } from '../errors/index.js';
import type { RunnableJobKind } from '../protocol/index.js';
import type { FerryClient } from '../remote/index.js';
import { EXIT, failForStatus } from './exit-codes.js';
import type { Runtime } from './runtime.js';
import {
  errorForTaskStatus,
  followTask,
  REMOTE_FOLLOW_INTERVAL_MS,
  remoteTaskFeed,
  taskExitStatus,
} from './task-follow.js';

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
  const client = await rt.openRemote(remote);
  const upid = await start(client);
  const name = `remote ${remote}: ${what}`;
  rt.log.info(`${name} started as task ${upid}`);
  const task = await followTask(
    rt,
    remoteTaskFeed(client, upid),
    (lines) => {
      for (const line of lines) process.stderr.write(`${line}\n`);
    },
    REMOTE_FOLLOW_INTERVAL_MS,
  );
  if (task === undefined) {
    await client.stopTask(upid).catch(() => undefined);
    throw new FerryError('FERRY_ERR_ABORTED', `${name}: interrupted; asked the server to stop task ${upid}`);
  }
  const status = taskExitStatus(task);
  rt.print(
    { remote, ...fields, task: upid, state: task.state, exitStatus: status },
    () => `${name}: ${task.state} (exit status ${status}; task ${upid})`,
  );
  failForStatus(status, name);
  if (status !== EXIT.ok)
    throw errorForTaskStatus(
      status,
      `${name} failed${task.message ? `: ${task.message}` : ''} (task ${upid})`,
    );
}
