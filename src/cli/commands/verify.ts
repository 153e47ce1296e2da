import type { Command } from 'commander';
import { FerryError } from '../../errors/index.js';
import { parseNamespace, parseSnapshot } from '../../model/index.js';
import { verifyDatastore } from '../../store/index.js';
import type { ActionFactory } from '../action.js';

export function registerVerify(program: Command, act: ActionFactory): void {
  program
    .command('verify <store> [snapshot]')
    .description('verify snapshots, every chunk they use, and the chunk index')
    .option('--ns <ns>', 'namespace (and those below it)', '')
    .action(
      act<{ ns: string }>(async (rt, [store, snapshot], opts) => {
        const ds = await rt.openDatastore(store as string);
        const report = await verifyDatastore(ds, {
          pool: rt.pool(),
          log: rt.log,
          ns: parseNamespace(opts.ns),
          ...(snapshot ? { snapshot: parseSnapshot(snapshot) } : {}),
          taskId: `verify:${store}:${rt.clock.now().toString(16)}`,
          signal: rt.signal,
        });
        rt.print(report, () =>
          [
            `verified ${report.snapshots} snapshot(s), ${report.chunks} chunk(s): ${report.problems.length === 0 ? 'ok' : `${report.problems.length} problem(s)`}`,
            ...report.problems.map((p) => `  ${p}`),
          ].join('\n'),
        );
        if (report.problems.length > 0) {
          throw new FerryError(
            'FERRY_ERR_VERIFY_FAILED',
            `verify found ${report.problems.length} problem(s) in datastore ${store}`,
          );
        }
      }),
    );
}
