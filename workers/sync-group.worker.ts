/**
 * Sync worker: runs one group of a sync job on this thread, with its own datastore handles (own lmdb) and its own
 * connections. Lines go to the coordinator through the task's MessagePort; progress through shared counters;
 * errors come back serialised (typed errors do not survive postMessage).
 */
import { setMaxListeners } from 'node:events';
import { threadId } from 'node:worker_threads';
import { FerryError, serializeError } from '../src/errors/index.js';
import { type LogLine, type LogMessage, type LogMethods, ProgressCounters } from '../src/log/index.js';
import { formatGroup, makeGroup, parseAuthId, parseNamespace, SYSTEM_CLOCK } from '../src/model/index.js';
import {
  ChunkClaims,
  EndpointOpener,
  type GroupTask,
  type GroupTaskResult,
  syncGroup,
} from '../src/sync/index.js';

// What the thread's clients log (a request failed and is retried, and the like) belongs in the job log, under the
// group this thread is running (one at a time): `toGroup` is that group's line sender while its task runs. Warnings
// and errors go there as one line each, `message (path, attempt N): cause`; info and debug are dropped. Written here
// rather than with pino: the thread would load pino only to parse its own JSON lines back (~30 ms of CPU per start).
let toGroup: ((level: LogLine['level'], msg: string) => void) | undefined;
function toJobLog(level: 'warn' | 'error'): (fieldsOrMsg: unknown, msg?: unknown) => void {
  return (fieldsOrMsg, msg) => {
    const fields =
      typeof fieldsOrMsg === 'object' && fieldsOrMsg !== null ? (fieldsOrMsg as Record<string, unknown>) : {};
    const text = typeof fieldsOrMsg === 'string' ? fieldsOrMsg : String(msg ?? '');
    const context = [
      fields['path'],
      fields['attempt'] === undefined ? undefined : `attempt ${fields['attempt']}`,
    ]
      .filter((part) => part !== undefined)
      .join(', ');
    const err = fields['err'];
    const cause = err instanceof Error ? `: ${err.message}` : '';
    toGroup?.(level, `${text}${context === '' ? '' : ` (${context})`}${cause}`);
  };
}
const clientLog: LogMethods = {
  debug: () => undefined,
  info: () => undefined,
  warn: toJobLog('warn'),
  error: toJobLog('error'),
};

/** How often a running group looks at the job's stop flag (set by the coordinator on Ctrl-C, SIGTERM, task stop). */
const STOP_POLL_MS = 50;

/**
 * An AbortSignal for the job's stop flag (an Int32Array over shared memory, 1 once the job is stopped), so that
 * requests, reads and rate-limit waits in flight end at once instead of at their natural end: with `--rate-in 2MiB`
 * a stopped local pull took 26 s to exit, the time its booked bytes would have taken.
 */
function stopSignal(control: Int32Array): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  // One signal serves every read, request and rate-limit wait of the group that is in flight, dozens at once: past
  // EventTarget's default of 10 listeners Node warns of a leak that is not one (each listener goes with its operation).
  setMaxListeners(0, controller.signal);
  const check = () => {
    if (Atomics.load(control, 0) === 0) return;
    clearInterval(timer);
    controller.abort(new FerryError('FERRY_ERR_ABORTED', 'interrupted'));
  };
  const timer = setInterval(check, STOP_POLL_MS);
  check();
  return { signal: controller.signal, dispose: () => clearInterval(timer) };
}

// One opener per job token: the thread's datastore handles and clients live as long as the job's pool.
const openers = new Map<number, EndpointOpener>();

function openerFor(task: GroupTask): EndpointOpener {
  let opener = openers.get(task.job.jobToken);
  if (opener === undefined) {
    opener = new EndpointOpener(SYSTEM_CLOCK, clientLog, task.job.rates);
    openers.set(task.job.jobToken, opener);
  }
  return opener;
}

export default async function run(task: GroupTask): Promise<GroupTaskResult> {
  const group = makeGroup(task.group.type, task.group.id);
  const label = formatGroup(group);
  const control = new Int32Array(task.control);
  const claims = ChunkClaims.attach(task.claims, threadId);
  const stop = stopSignal(control);
  const send = (level: LogLine['level'], msg: string) => {
    const message: LogMessage = { type: 'line', line: { label, level, msg, time: SYSTEM_CLOCK.now() } };
    task.log.postMessage(message);
  };
  let source: Awaited<ReturnType<EndpointOpener['source']>> | undefined;
  let target: Awaited<ReturnType<EndpointOpener['target']>> | undefined;
  toGroup = send;
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
      signal: stop.signal,
    });
    return { ok: true, result };
  } catch (err) {
    return { ok: false, error: serializeError(err) };
  } finally {
    stop.dispose();
    toGroup = undefined;
    claims.releaseAll();
    await source?.close();
    await target?.close();
    const flush: LogMessage = { type: 'flush', label };
    task.log.postMessage(flush);
    task.log.close();
  }
}
