import type { Command } from 'commander';
import { FerryError } from '../../errors/index.js';
import { parseNamespace, parseSnapshot } from '../../model/index.js';
import { verifyDatastore } from '../../store/index.js';
import type { ActionFactory } from '../action.js';
import { parseIntOption } from '../parse-options.js';
import { taskUpid } from '../task.js';

export function registerVerify(program: Command, act: ActionFactory): void {
  program
    .command('verify <store> [snapshot]')
    .description('verify snapshots, every chunk they use, and the chunk index')
    .option('--ns <ns>', 'namespace (and those below it)', '')
    .option(
      '--ignore-verified',
      'skip snapshots whose last verification passed (failed ones are verified again)',
    )
    .option(
      '--outdated-after <days>',
      'with --ignore-verified: verify again once the last verification is older than this many days (0: always)',
    )
    .action(
      act<{ ns: string; ignoreVerified?: boolean; outdatedAfter?: string }>(
        async (rt, [store, snapshot], opts) => {
          if (opts.outdatedAfter !== undefined && opts.ignoreVerified !== true)
            throw new FerryError('FERRY_ERR_USAGE', '--outdated-after needs --ignore-verified');
          const outdatedAfterDays =
            opts.outdatedAfter === undefined
              ? undefined
              : parseIntOption('--outdated-after', opts.outdatedAfter, 0, 36_500);
          const ds = await rt.openDatastore(store as string);
          const report = await verifyDatastore(ds, {
            pool: rt.pool(),
            log: rt.log,
            ns: parseNamespace(opts.ns),
            ...(snapshot ? { snapshot: parseSnapshot(snapshot) } : {}),
            ...(opts.ignoreVerified
              ? { ignoreVerified: outdatedAfterDays === undefined ? {} : { outdatedAfterDays } }
              : {}),
            taskId: taskUpid('verify', store as string, rt.clock.now()),
            signal: rt.signal,
          });
          rt.print(report, () =>
            [
              `verified ${report.snapshots} snapshot(s), ${report.chunks} chunk(s): ${report.problems.length === 0 ? 'ok' : `${report.problems.length} problem(s)`}${report.skipped > 0 ? `; skipped ${report.skipped} verified before` : ''}`,
              ...report.problems.map((p) => `  ${p}`),
            ].join('\n'),
          );
          if (report.problems.length > 0) {
            throw new FerryError(
              'FERRY_ERR_VERIFY_FAILED',
              `verify found ${report.problems.length} problem(s) in datastore ${store}`,
            );
          }
        },
      ),
    );
}
