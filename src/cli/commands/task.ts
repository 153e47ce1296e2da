import type { Command } from 'commander';
import { listTasks, pruneTasks, readTask, stopTask, type TaskRecord } from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import type { ActionFactory } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { parseDurationOption, parseIntOption } from '../parse-options.js';
import type { Runtime } from '../runtime.js';
import {
  errorForTaskStatus,
  followTask,
  LOCAL_FOLLOW_INTERVAL_MS,
  localTaskFeed,
  REMOTE_FOLLOW_INTERVAL_MS,
  readRemoteTask,
  remoteTaskFeed,
  type TaskFeed,
  taskExitStatus,
  taskFromWire,
} from '../task-follow.js';

const REMOTE_HELP = "this remote's task(s), through its API (its token needs admin on /)";

interface ListFilters {
  since?: string;
  type?: string;
  subject?: string;
  errors?: boolean;
  running?: boolean;
  limit?: string;
}

/**
 * `task list`'s filters: which tasks they keep, oldest first. Parsed first, so a bad value fails before anything is
 * read or a remote asked; a remote's list is filtered here too (the API has no filters).
 */
function taskFilter(rt: Runtime, opts: ListFilters): (tasks: readonly TaskRecord[]) => TaskRecord[] {
  const since =
    opts.since === undefined ? undefined : rt.clock.now() - parseDurationOption('--since', opts.since);
  const limit = opts.limit === undefined ? undefined : parseIntOption('--limit', opts.limit, 1, 1_000_000);
  return (tasks) =>
    tasks
      .filter((t) => since === undefined || Date.parse(t.started) >= since)
      .filter((t) => opts.type === undefined || t.type === opts.type)
      .filter((t) => opts.subject === undefined || t.subject === opts.subject)
      .filter((t) => opts.errors !== true || (t.state !== 'ok' && t.state !== 'running'))
      .filter((t) => opts.running !== true || t.state === 'running')
      .slice(limit === undefined ? 0 : -limit);
}

/**
 * `task log --follow`: prints the task's log as it grows until the task ends, then ends with the task's exit status.
 * Interrupted, it stops following and leaves the task alone (exit 130). `name` names the task in messages.
 */
async function followLog(rt: Runtime, feed: TaskFeed, name: string, intervalMs: number): Promise<void> {
  const record = await followTask(rt, feed, (lines) => rt.printLines(lines), intervalMs);
  if (record === undefined) {
    throw new FerryError(
      'FERRY_ERR_ABORTED',
      `${name}: stopped following; the task goes on (ferry task stop stops it)`,
    );
  }
  if (rt.format === 'json') rt.print(record, () => '');
  const status = taskExitStatus(record);
  if (status !== EXIT.ok)
    throw errorForTaskStatus(
      status,
      `${name}: ${record.state}${record.message ? `: ${record.message}` : ''}`,
    );
}

/**
 * A task's log as text, read once through the same feed a follower polls (the file piece by piece, never whole): the
 * same lines as `--remote` prints, a line still being written held back while the task runs, as the API does.
 */
async function printLocalLog(rt: Runtime, upid: string): Promise<void> {
  let printed = 0;
  await localTaskFeed(rt.home, upid).poll((lines) => {
    rt.printLines(lines);
    printed += lines.length;
  });
  if (printed === 0) rt.printLines(['']); // an empty log: an empty line, as `--remote` prints it
}

export function registerTask(program: Command, act: ActionFactory): void {
  const cmd = program.command('task').description('tasks: list, log, stop, prune');
  cmd
    .command('list')
    .description('list tasks (sync jobs, verify, prune, gc) with their state and exit status, oldest first')
    .option('--since <duration>', 'only tasks started within this long (e.g. 24h, 7d)')
    .option(
      '--type <type>',
      'only tasks of this type (syncjob, prunejob, verificationjob, verify, prune, gc)',
    )
    .option('--subject <subject>', 'only tasks about this job id or datastore')
    .option('--errors', 'only tasks that did not end ok (failed or aborted; running ones are left out)')
    .option(
      '--running',
      'only tasks still running (their process alive): what to wait for before maintenance',
    )
    .option('--limit <n>', 'only the newest N of those')
    .option(
      '--remote <name>',
      `${REMOTE_HELP}; the API lists them all, and the filters above apply here (--since by this host's clock)`,
    )
    .action(
      act<ListFilters & { remote?: string }>(async (rt, _args, opts) => {
        const select = taskFilter(rt, opts);
        const tasks = select(
          opts.remote === undefined
            ? await listTasks(rt.home)
            : (await (await rt.openRemote(opts.remote, { connections: 1 })).listTasks()).map(taskFromWire),
        );
        rt.printList(
          tasks.map((t) => ({
            id: t.id,
            type: t.type,
            subject: t.subject,
            started: t.started,
            state: t.state,
            exit: t.exitStatus,
          })),
          ['id', 'type', 'subject', 'started', 'state', 'exit'],
          tasks,
        );
      }),
    );
  cmd
    .command('log <id>')
    .description("print a task's log")
    .option(
      '--follow',
      "while the task runs, print its log as it grows; exit with the task's status once it ends (Ctrl-C stops following, never the task)",
    )
    .option('--remote <name>', REMOTE_HELP)
    .action(
      act<{ follow?: boolean; remote?: string }>(async (rt, [id], opts) => {
        const upid = id as string;
        if (opts.remote === undefined) {
          if (opts.follow === true) {
            await followLog(rt, localTaskFeed(rt.home, upid), `task ${upid}`, LOCAL_FOLLOW_INTERVAL_MS);
            return;
          }
          if (rt.format === 'text') {
            await printLocalLog(rt, upid);
            return;
          }
          const { record, log } = await readTask(rt.home, upid);
          rt.print({ ...record, log }, () => log);
          return;
        }
        const client = await rt.openRemote(opts.remote, { connections: 1 });
        const name = `remote ${opts.remote}: task ${upid}`;
        if (opts.follow === true) {
          await followLog(rt, remoteTaskFeed(client, upid), name, REMOTE_FOLLOW_INTERVAL_MS);
          return;
        }
        const log: string[] = [];
        const { task } = await readRemoteTask(client, upid, 0, (lines) => log.push(...lines));
        // The API answers the log's lines; `log` in JSON is the file's text, as for a task of this host.
        rt.print({ ...task, log: log.map((l) => `${l}\n`).join('') }, () => log.join('\n'));
      }),
    );
  cmd
    .command('stop <id>')
    .description(
      'ask a running task to stop (it finishes its in-flight writes and publishes nothing partial)',
    )
    .option('--remote <name>', `${REMOTE_HELP}: the server signals its process`)
    .action(
      act<{ remote?: string }>(async (rt, [id], opts) => {
        if (opts.remote === undefined) await stopTask(rt.home, id as string);
        else await (await rt.openRemote(opts.remote, { connections: 1 })).stopTask(id as string);
        const where = opts.remote === undefined ? '' : ` on remote ${opts.remote}`;
        rt.print({ id, signalled: true }, () => `asked task ${id}${where} to stop`);
      }),
    );
  cmd
    .command('prune')
    .description('remove the records and logs of tasks that ended long ago (never a running one)')
    .option('--older-than <duration>', 'remove tasks that ended before this long ago (e.g. 30d, 12h)', '30d')
    .action(
      act<{ olderThan: string }>(async (rt, _args, opts) => {
        const cutoff = rt.clock.now() - parseDurationOption('--older-than', opts.olderThan);
        const r = await pruneTasks(rt.home, cutoff);
        const before = new Date(cutoff).toISOString().replace(/\.\d{3}Z$/, 'Z');
        rt.print(
          { ...r, before },
          () => `removed ${r.removed} task(s) that ended before ${before}, kept ${r.kept}`,
        );
      }),
    );
}
