import type { Command } from 'commander';
import { datastoreTaskSubject, maintenanceOf } from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import {
  formatSnapshot,
  MAX_NAMESPACE_DEPTH,
  type Namespace,
  parseNamespace,
  parseSnapshot,
  type SnapshotRef,
} from '../../model/index.js';
import type { VerifyRun } from '../../server/index.js';
import { verifyDatastore } from '../../store/index.js';
import type { ActionFactory } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { parseIntOption } from '../parse-options.js';
import { followRemoteRun } from '../remote-run.js';
import type { Runtime } from '../runtime.js';
import { JOB_TASK_TYPES, runAsTask } from '../task.js';

export interface VerifyRequest {
  store: string;
  ns: Namespace;
  /** Namespace levels below `ns` included (default: all). */
  maxDepth?: number | undefined;
  snapshot?: SnapshotRef | undefined;
  ignoreVerified: boolean;
  outdatedAfterDays?: number | undefined;
  /** A run of this verify job (`ferry verify-job run`): its task and job state. */
  job?: string;
}

/**
 * Verifies, as a task (as in PBS: its id is what each verified manifest records, and its log says what was found),
 * and prints the report: what `ferry verify` and `ferry verify-job run` do. Throws, after printing, on problems.
 */
export async function runVerify(rt: Runtime, req: VerifyRequest): Promise<void> {
  const { store, ns, snapshot: target } = req;
  const { ds, entry } = await rt.openDatastoreEntry(store, 'read', 'verify');
  // A datastore in read-only maintenance is verified all the same, but nothing is recorded in it.
  const readOnly = maintenanceOf(entry) !== undefined;
  const { result: report, task } = await runAsTask(
    rt,
    req.job === undefined ? 'verify' : JOB_TASK_TYPES.verify,
    // A verification of a namespace names it (`STORE:NS`): the server lets that namespace's reader follow it.
    req.job ?? datastoreTaskSubject(entry.name, ns),
    (t, log) =>
      verifyDatastore(ds, {
        pool: rt.pool(),
        log,
        ns,
        ...(req.maxDepth !== undefined ? { maxDepth: req.maxDepth } : {}),
        ...(target ? { snapshot: target } : {}),
        ...(req.ignoreVerified
          ? {
              ignoreVerified:
                req.outdatedAfterDays === undefined ? {} : { outdatedAfterDays: req.outdatedAfterDays },
            }
          : {}),
        taskId: t.record.id,
        readOnly,
        signal: rt.signal,
      }),
    (r) => (r.problems.length > 0 ? EXIT.failed : EXIT.ok),
    req.job === undefined ? undefined : { kind: 'verify', id: req.job },
  );
  const failed = report.problems.length > 0;
  rt.print({ ...report, task: task.record.id }, () =>
    [
      `verified ${report.snapshots} snapshot(s), ${report.chunks} chunk(s): ${failed ? `${report.problems.length} problem(s)` : 'ok'}${report.skipped > 0 ? `; skipped ${report.skipped} verified before` : ''} (task ${task.record.id})`,
      ...(readOnly ? [`  nothing recorded: datastore ${store} is in read-only maintenance mode`] : []),
      ...report.problems.map((p) => `  ${p}`),
    ].join('\n'),
  );
  if (failed) {
    throw new FerryError(
      'FERRY_ERR_VERIFY_FAILED',
      `verify found ${report.problems.length} problem(s) in datastore ${store}`,
    );
  }
}

/** The `ferry verify` command line that runs `run` on `store` (the server starts verifications asked for this way). */
export function verifyArgs(store: string, run: VerifyRun): string[] {
  return [
    'verify',
    store,
    ...(run.snapshot !== undefined ? [formatSnapshot(run.snapshot)] : []),
    '--ns',
    run.ns,
    ...(run.maxDepth !== undefined ? ['--max-depth', String(run.maxDepth)] : []),
    ...(run.ignoreVerified ? ['--ignore-verified'] : []),
    ...(run.outdatedAfterDays !== undefined ? ['--outdated-after', String(run.outdatedAfterDays)] : []),
  ];
}

interface VerifyFlags {
  ns: string;
  maxDepth?: string;
  ignoreVerified?: boolean;
  outdatedAfter?: string;
  remote?: string;
}

export function registerVerify(program: Command, act: ActionFactory): void {
  program
    .command('verify <store> [snapshot]')
    .description('verify snapshots, every chunk they use, and the chunk index')
    .option('--ns <ns>', 'namespace (and those below it)', '')
    .option(
      '--max-depth <n>',
      `only the namespaces up to N levels below --ns (0-${MAX_NAMESPACE_DEPTH}; 0: --ns alone; default: all)`,
    )
    .option(
      '--ignore-verified',
      'skip snapshots whose last verification passed (failed ones are verified again)',
    )
    .option(
      '--outdated-after <days>',
      'with --ignore-verified: verify again once the last verification is older than this many days (0: always)',
    )
    .option(
      '--remote <name>',
      "run it on this remote's datastore <store> (as its ferry verify), and follow its task",
    )
    .action(
      act<VerifyFlags>(async (rt, [store, snapshot], opts) => {
        if (opts.outdatedAfter !== undefined && opts.ignoreVerified !== true)
          throw new FerryError('FERRY_ERR_USAGE', '--outdated-after needs --ignore-verified');
        const outdatedAfterDays =
          opts.outdatedAfter === undefined
            ? undefined
            : parseIntOption('--outdated-after', opts.outdatedAfter, 0, 36_500);
        if (opts.maxDepth !== undefined && snapshot !== undefined)
          throw new FerryError(
            'FERRY_ERR_USAGE',
            '--max-depth is for the namespaces below --ns, not for one snapshot: give one or the other',
          );
        const maxDepth =
          opts.maxDepth === undefined
            ? undefined
            : parseIntOption('--max-depth', opts.maxDepth, 0, MAX_NAMESPACE_DEPTH);
        if (opts.remote !== undefined) {
          const ns = parseNamespace(opts.ns);
          const ref = snapshot ? parseSnapshot(snapshot) : undefined;
          await followRemoteRun(rt, opts.remote, `verification of ${store}`, { store }, (client) =>
            client.startVerify(store as string, {
              ns,
              ...(maxDepth !== undefined ? { maxDepth } : {}),
              ...(ref !== undefined ? { snapshot: ref } : {}),
              ignoreVerified: opts.ignoreVerified === true,
              ...(outdatedAfterDays !== undefined ? { outdatedAfterDays } : {}),
            }),
          );
          return;
        }
        await runVerify(rt, {
          store: store as string,
          ns: parseNamespace(opts.ns),
          maxDepth,
          snapshot: snapshot ? parseSnapshot(snapshot) : undefined,
          ignoreVerified: opts.ignoreVerified === true,
          outdatedAfterDays,
        });
      }),
    );
}
