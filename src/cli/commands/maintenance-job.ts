import type { Command } from 'commander';
import {
  createMaintenanceJob,
  lookupMaintenanceJob,
  type MaintenanceJob,
  type MaintenanceKind,
  readMaintenanceJobs,
  removeMaintenanceJob,
  updateMaintenanceJob,
} from '../../config/index.js';
import { formatKeepOptions, KEEP_OPTIONS, MAX_NAMESPACE_DEPTH, nowSeconds } from '../../model/index.js';
import type { ActionFactory } from '../action.js';
import { formatJobLines, type JobScheduleStatus, jobScheduleStatus, runCells } from '../job-status.js';
import { runRemoteJob } from '../remote-run.js';
import type { Runtime } from '../runtime.js';
import { runPrune } from './prune.js';
import { runVerify } from './verify.js';

/**
 * `ferry prune-job` and `ferry verify-job`: PBS's prune jobs (prune.cfg) and verify jobs (verification.cfg), made,
 * listed (with their last and next run), changed, removed and run by hand; `ferry serve` runs them on their schedule.
 * Options are the config keys (`--keep-daily 7`, `--outdated-after 30`), as for sync jobs.
 */

type Kind = 'value' | 'bool';

const COMMON: readonly [key: string, kind: Kind, description: string][] = [
  ['store', 'value', 'the datastore'],
  ['ns', 'value', 'namespace anchor (default: the root)'],
  ['max-depth', 'value', `namespace levels below the anchor (0-${MAX_NAMESPACE_DEPTH}, default: all)`],
  ['schedule', 'value', 'calendar event: when `ferry serve` runs it (e.g. daily, "mon..fri 02:00")'],
  ['comment', 'value', 'one line of text'],
];

const SPECIFIC: Readonly<Record<MaintenanceKind, readonly [string, Kind, string][]>> = {
  prune: [
    ...KEEP_OPTIONS.map(
      (o) => [`keep-${o}`, 'value', `keep-${o} count (as ferry prune)`] as [string, Kind, string],
    ),
    ['disable', 'bool', 'not run on its schedule (still by hand)'],
  ],
  verify: [
    ['ignore-verified', 'bool', 'skip snapshots whose last verification passed (default true)'],
    ['outdated-after', 'value', 'verify those again after this many days'],
  ],
};

const TITLE: Readonly<Record<MaintenanceKind, string>> = { prune: 'prune job', verify: 'verify job' };

function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function options(kind: MaintenanceKind): readonly [string, Kind, string][] {
  return [...COMMON, ...SPECIFIC[kind]];
}

function addOptions(cmd: Command, kind: MaintenanceKind): Command {
  for (const [key, k, description] of options(kind)) {
    if (k === 'bool') cmd.option(`--${key} [bool]`, description);
    else cmd.option(`--${key} <value>`, description);
  }
  return cmd;
}

function valuesFromOptions(kind: MaintenanceKind, opts: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, k] of options(kind)) {
    const v = opts[camel(key)];
    if (v !== undefined) values[key] = k === 'bool' && v === true ? 'true' : v;
  }
  return values;
}

async function describe(
  rt: Runtime,
  job: MaintenanceJob,
): Promise<Record<string, unknown> & JobScheduleStatus> {
  const schedule = job.disabled ? undefined : job.schedule;
  const status = await jobScheduleStatus(rt.home, job.kind, job.id, schedule, nowSeconds(rt.clock));
  return { id: job.id, ...job.values, ...status };
}

function what(job: MaintenanceJob): string {
  if (job.kind === 'prune') return formatKeepOptions(job.keep) || 'keep all';
  if (!job.ignoreVerified) return 'all snapshots';
  return job.outdatedAfterDays === undefined
    ? 'new and failed'
    : `new, failed, verified > ${job.outdatedAfterDays} d ago`;
}

export function registerMaintenanceJobs(program: Command, act: ActionFactory, kind: MaintenanceKind): void {
  const title = TITLE[kind];
  const cmd = program
    .command(`${kind}-job`)
    .description(
      `${title}s in ${kind === 'prune' ? 'prune.cfg' : 'verification.cfg'}: create, update, list, show, remove, run`,
    );

  addOptions(cmd.command('create <id>').description(`create a ${title}`), kind).action(
    act<Record<string, unknown>>(async (rt, [id], opts) => {
      const job = await createMaintenanceJob(rt.home, kind, id as string, valuesFromOptions(kind, opts));
      rt.print(await describe(rt, job), () => `created ${title} ${job.id}`);
    }),
  );

  addOptions(cmd.command('update <id>').description(`change keys of a ${title}`), kind)
    .option('--delete <key>', 'remove a key (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .action(
      act<Record<string, unknown>>(async (rt, [id], opts) => {
        const remove = (opts['delete'] as string[] | undefined) ?? [];
        const job = await updateMaintenanceJob(
          rt.home,
          kind,
          id as string,
          valuesFromOptions(kind, opts),
          remove,
        );
        rt.print(await describe(rt, job), () => `updated ${title} ${job.id}`);
      }),
    );

  cmd
    .command('list')
    .description(`list ${title}s with their last and next run`)
    .action(
      act(async (rt) => {
        const jobs = await readMaintenanceJobs(rt.home, kind);
        const described = await Promise.all(jobs.map((j) => describe(rt, j)));
        rt.printList(
          jobs.map((j, i) => {
            const d = described[i] as JobScheduleStatus;
            return {
              id: j.id,
              store: j.store,
              ns: j.ns === '' ? '/' : j.ns,
              [kind === 'prune' ? 'keep' : 'snapshots']: what(j),
              schedule: j.disabled ? `${j.schedule} (disabled)` : (j.schedule ?? '-'),
              'last run': runCells(d).last,
              'next run': runCells(d).next,
            };
          }),
          ['id', 'store', 'ns', kind === 'prune' ? 'keep' : 'snapshots', 'schedule', 'last run', 'next run'],
          described,
        );
      }),
    );

  cmd
    .command('show <id>')
    .description(`show a ${title}`)
    .action(
      act(async (rt, [id]) => {
        const described = await describe(rt, await lookupMaintenanceJob(rt.home, kind, id as string));
        rt.print(described, () => formatJobLines(described));
      }),
    );

  cmd
    .command('remove <id>')
    .description(`remove a ${title}`)
    .action(
      act(async (rt, [id]) => {
        const job = await removeMaintenanceJob(rt.home, kind, id as string);
        rt.print({ id: job.id, removed: true }, () => `removed ${title} ${job.id}`);
      }),
    );

  cmd
    .command('run <id>')
    .description(`run a ${title} now (as ferry serve does on its schedule)`)
    .option('--remote <name>', "run that remote's job <id> on it, and follow its task here")
    .action(
      act<{ remote?: string }>(async (rt, [id], opts) => {
        if (opts.remote !== undefined) {
          await runRemoteJob(rt, opts.remote, kind, id as string);
          return;
        }
        const job = await lookupMaintenanceJob(rt.home, kind, id as string);
        const maxDepth = job.maxDepth ?? MAX_NAMESPACE_DEPTH;
        if (kind === 'prune') {
          await runPrune(rt, {
            store: job.store,
            ns: job.ns,
            maxDepth,
            keep: job.keep,
            dryRun: false,
            job: job.id,
          });
        } else {
          await runVerify(rt, {
            store: job.store,
            ns: job.ns,
            maxDepth,
            ignoreVerified: job.ignoreVerified,
            outdatedAfterDays: job.outdatedAfterDays,
            job: job.id,
          });
        }
      }),
    );
}
