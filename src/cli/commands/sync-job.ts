import type { Command } from 'commander';
import { readSyncConfig, type SyncJob, validateSyncJobValues, writeSyncConfig } from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import { ensureDir } from '../../io/index.js';
import { checkSafeId } from '../../model/index.js';
import type { ActionFactory } from '../action.js';
import { addJobOptions, jobValuesFromOptions } from '../job-options.js';
import type { Runtime } from '../runtime.js';
import { runSyncTask } from '../sync-runner.js';
import { failForStatus } from './sync.js';

function describe(job: SyncJob): Record<string, unknown> {
  return { id: job.id, ...job.values };
}

async function findJob(rt: Runtime, id: string): Promise<{ jobs: SyncJob[]; job: SyncJob }> {
  const jobs = await readSyncConfig(rt.home);
  const job = jobs.find((j) => j.id === checkSafeId('sync job id', id, 64));
  if (!job) throw new FerryError('FERRY_ERR_NOT_FOUND', `sync job ${id} does not exist`);
  return { jobs, job };
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
      const jobs = await readSyncConfig(rt.home);
      if (jobs.some((j) => j.id === id))
        throw new FerryError('FERRY_ERR_ALREADY_EXISTS', `sync job ${id} exists already`);
      const values = {
        store: opts['store'],
        'remote-store': opts['remoteStore'],
        ...(opts['remote'] ? { remote: opts['remote'] } : {}),
        'sync-direction': opts['syncDirection'],
        ...jobValuesFromOptions(opts),
      };
      const job = validateSyncJobValues(checkSafeId('sync job id', id, 64), values);
      await ensureDir(rt.home);
      await writeSyncConfig(rt.home, [...jobs, job]);
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
      const { jobs, job } = await findJob(rt, id as string);
      const values: Record<string, unknown> = { ...job.values };
      for (const key of (opts['delete'] as string[] | undefined) ?? []) delete values[key];
      for (const [key, opt] of [
        ['store', 'store'],
        ['remote-store', 'remoteStore'],
        ['remote', 'remote'],
        ['sync-direction', 'syncDirection'],
      ] as const) {
        if (opts[opt] !== undefined) values[key] = opts[opt];
      }
      Object.assign(values, jobValuesFromOptions(opts));
      const updated = validateSyncJobValues(job.id, values);
      await writeSyncConfig(
        rt.home,
        jobs.map((j) => (j.id === job.id ? updated : j)),
      );
      rt.print(describe(updated), () => `updated sync job ${job.id}`);
    }),
  );

  cmd
    .command('list')
    .description('list sync jobs')
    .action(
      act(async (rt) => {
        const jobs = await readSyncConfig(rt.home);
        rt.printList(
          jobs.map((j) => ({
            id: j.id,
            direction: j.direction,
            store: j.store,
            remote: j.remote ?? '-',
            'remote-store': j.remoteStore,
            'worker-threads': j.workerThreads,
            comment: j.comment,
          })),
          ['id', 'direction', 'store', 'remote', 'remote-store', 'worker-threads', 'comment'],
          jobs.map(describe),
        );
      }),
    );

  cmd
    .command('show <id>')
    .description('show a sync job')
    .action(
      act(async (rt, [id]) => {
        const { job } = await findJob(rt, id as string);
        rt.print(describe(job), () =>
          Object.entries(describe(job))
            .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`)
            .join('\n'),
        );
      }),
    );

  cmd
    .command('remove <id>')
    .description('remove a sync job')
    .action(
      act(async (rt, [id]) => {
        const { jobs, job } = await findJob(rt, id as string);
        await writeSyncConfig(
          rt.home,
          jobs.filter((j) => j !== job),
        );
        rt.print({ id: job.id, removed: true }, () => `removed sync job ${job.id}`);
      }),
    );

  cmd
    .command('run <id>')
    .description('run a sync job now')
    .option('--no-progress', 'no progress display')
    .action(
      act<{ progress: boolean }>(async (rt, [id], opts) => {
        const { job } = await findJob(rt, id as string);
        failForStatus(await runSyncTask(rt, job, { progress: opts.progress }), `sync job ${job.id}`);
      }),
    );
}
