/**
 * Sync worker: runs one group of a sync job on this thread, with its own datastore handles (own lmdb) and its own
 * connections. Lines go to the coordinator through the task's MessagePort; progress through shared counters;
 * errors come back serialised (typed errors do not survive postMessage).
 */
import { threadId } from 'node:worker_threads';
import { serializeError } from '../src/errors/index.js';
import { type LogLine, type LogMessage, ProgressCounters, silentLogger } from '../src/log/index.js';
import { formatGroup, makeGroup, parseAuthId, parseNamespace, SYSTEM_CLOCK } from '../src/model/index.js';
import {
  ChunkClaims,
  EndpointOpener,
  type GroupTask,
  type GroupTaskResult,
  syncGroup,
} from '../src/sync/index.js';

// One opener per job token: the thread's datastore handles and clients live as long as the job's pool.
const openers = new Map<number, EndpointOpener>();

function openerFor(task: GroupTask): EndpointOpener {
  let opener = openers.get(task.job.jobToken);
  if (opener === undefined) {
    opener = new EndpointOpener(SYSTEM_CLOCK, silentLogger(), task.job.rates);
    openers.set(task.job.jobToken, opener);
  }
  return opener;
}

export default async function run(task: GroupTask): Promise<GroupTaskResult> {
  const group = makeGroup(task.group.type, task.group.id);
  const label = formatGroup(group);
  const control = new Int32Array(task.control);
  const claims = ChunkClaims.attach(task.claims, threadId);
  const send = (level: LogLine['level'], msg: string) => {
    const message: LogMessage = { type: 'line', line: { label, level, msg, time: SYSTEM_CLOCK.now() } };
    task.log.postMessage(message);
  };
  let source: Awaited<ReturnType<EndpointOpener['source']>> | undefined;
  let target: Awaited<ReturnType<EndpointOpener['target']>> | undefined;
  try {
    const opener = openerFor(task);
    source = await opener.source(task.job.source);
    target = await opener.target(task.job.target);
    const result = await syncGroup({
      source,
      target,
      sourceNs: parseNamespace(task.sourceNs),
      targetNs: parseNamespace(task.targetNs),
      group,
      ...(task.sourceListing ? { sourceListing: task.sourceListing } : {}),
      owner: parseAuthId(task.job.owner),
      jobToken: task.job.jobToken,
      rules: task.job.rules,
      transfer: task.job.transfer,
      claims,
      progress: ProgressCounters.attach(task.progress),
      slot: task.slot,
      log: { info: (msg) => send('info', msg), warn: (msg) => send('warn', msg) },
      clock: SYSTEM_CLOCK,
      isAborted: () => Atomics.load(control, 0) !== 0,
    });
    return { ok: true, result };
  } catch (err) {
    return { ok: false, error: serializeError(err) };
  } finally {
    claims.releaseAll();
    await source?.close();
    await target?.close();
    const flush: LogMessage = { type: 'flush', label };
    task.log.postMessage(flush);
    task.log.close();
  }
}
