import type { Command } from 'commander';
import {
  createSyncJob,
  lookupSyncJob,
  readSyncConfig,
  removeSyncJob,
  type SyncJob,
  updateSyncJob,
} from '../../config/index.js';
import { nowSeconds } from '../../model/index.js';
import type { ActionFactory } from '../action.js';
import { failForStatus } from '../exit-codes.js';
import { addJobOptions, jobValuesFromOptions } from '../job-options.js';
import { formatJobLines, type JobScheduleStatus, jobScheduleStatus, runCells } from '../job-status.js';
import { runRemoteJob } from '../remote-run.js';
import type { Runtime } from '../runtime.js';
import { runSyncTask } from '../sync-runner.js';

function describe(job: SyncJob): Record<string, unknown> {
  return { id: job.id, ...job.values };
}

/** The job's keys and its schedule status (last run, next run), as PBS's sync job listing gives them. */
async function describeWithStatus(
  rt: Runtime,
  job: SyncJob,
): Promise<Record<string, unknown> & JobScheduleStatus> {
  const status = await jobScheduleStatus(rt.home, 'sync', job.id, job.schedule, nowSeconds(rt.clock));
  return { ...describe(job), ...status };
}

export function registerSyncJob(program: Command, act: ActionFactory): void {
  const cmd = program
    .command('sync-job')
    .description('sync jobs in sync.cfg: create, update, list, show, remove, run');

  addJobOptions(
    cmd
      .command('create <id>')
      .description('create a sync job')
      .requiredOption('--store <store>', 'the local datastore')
      .requiredOption('--remote-store <store>', "the other side's datastore")
      .option('--remote <remote>', 'the remote (none: a local sync between two datastores)')
      .option('--sync-direction <dir>', 'pull or push', 'pull'),
  ).action(
    act<Record<string, unknown>>(async (rt, [id], opts) => {
      const job = await createSyncJob(rt.home, id as string, {
        store: opts['store'],
        'remote-store': opts['remoteStore'],
        ...(opts['remote'] ? { remote: opts['remote'] } : {}),
        'sync-direction': opts['syncDirection'],
        ...jobValuesFromOptions(opts),
      });
      rt.print(describe(job), () => `created sync job ${job.id}`);
    }),
  );

  addJobOptions(
    cmd
      .command('update <id>')
      .description('change keys of a sync job')
      .option('--store <store>', 'the local datastore')
      .option('--remote-store <store>', "the other side's datastore")
      .option('--remote <remote>', 'the remote')
      .option('--sync-direction <dir>', 'pull or push')
      .option('--delete <key>', 'remove a key (repeatable)', (v: string, prev: string[] = []) => [
        ...prev,
        v,
      ]),
  ).action(
    act<Record<string, unknown>>(async (rt, [id], opts) => {
      const set: Record<string, unknown> = {};
      for (const [key, opt] of [
        ['store', 'store'],
        ['remote-store', 'remoteStore'],
        ['remote', 'remote'],
        ['sync-direction', 'syncDirection'],
      ] as const) {
        if (opts[opt] !== undefined) set[key] = opts[opt];
      }
      Object.assign(set, jobValuesFromOptions(opts));
      const remove = (opts['delete'] as string[] | undefined) ?? [];
      const updated = await updateSyncJob(rt.home, id as string, set, remove);
      rt.print(describe(updated), () => `updated sync job ${updated.id}`);
    }),
  );

  cmd
    .command('list')
    .description('list sync jobs')
    .action(
      act(async (rt) => {
        const jobs = await readSyncConfig(rt.home);
        const described = await Promise.all(jobs.map((j) => describeWithStatus(rt, j)));
        rt.printList(
          jobs.map((j, i) => {
            const d = described[i] as JobScheduleStatus;
            return {
              id: j.id,
              direction: j.direction,
              store: j.store,
              remote: j.remote ?? '-',
              'remote-store': j.remoteStore,
              'worker-threads': j.workerThreads,
              schedule: j.schedule ?? '-',
              'last run': runCells(d).last,
              'next run': runCells(d).next,
            };
          }),
          [
            'id',
            'direction',
            'store',
            'remote',
            'remote-store',
            'worker-threads',
            'schedule',
            'last run',
            'next run',
          ],
          described,
        );
      }),
    );

  cmd
    .command('show <id>')
    .description('show a sync job')
    .action(
      act(async (rt, [id]) => {
        const job = await lookupSyncJob(rt.home, id as string);
        const described = await describeWithStatus(rt, job);
        rt.print(described, () => formatJobLines(described));
      }),
    );

  cmd
    .command('remove <id>')
    .description('remove a sync job')
    .action(
      act(async (rt, [id]) => {
        const job = await removeSyncJob(rt.home, id as string);
        rt.print({ id: job.id, removed: true }, () => `removed sync job ${job.id}`);
      }),
    );

  cmd
    .command('run <id>')
    .description('run a sync job now')
    .option('--no-progress', 'no progress display')
    .option('--remote <name>', "run that remote's sync job <id> on it, and follow its task here")
    .action(
      act<{ progress: boolean; remote?: string }>(async (rt, [id], opts) => {
        if (opts.remote !== undefined) {
          await runRemoteJob(rt, opts.remote, 'sync', id as string);
          return;
        }
        const job = await lookupSyncJob(rt.home, id as string);
        failForStatus(
          await runSyncTask(rt, job, { progress: opts.progress, configured: true }),
          `sync job ${job.id}`,
        );
      }),
    );
}
