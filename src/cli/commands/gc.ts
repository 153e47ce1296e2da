import type { Command } from 'commander';
import { datastoreTaskSubject } from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import { formatBytes, parseStoreName } from '../../model/index.js';
import { DEFAULT_GC_GRACE_MS, garbageCollect } from '../../store/index.js';
import type { ActionFactory } from '../action.js';
import { EXIT } from '../exit-codes.js';
import { parseDurationOption } from '../parse-options.js';
import { followRemoteRun } from '../remote-run.js';
import { runAsTask } from '../task.js';

export function registerGc(program: Command, act: ActionFactory): void {
  program
    .command('gc <store>')
    .description('remove chunks no snapshot references and nobody used within the grace period')
    .option(
      '--grace <duration>',
      'keep unreferenced chunks used more recently than this (e.g. 24h5m, 30m, 0)',
    )
    .option(
      '--remote <name>',
      "run it on this remote's datastore <store> (as its ferry gc), and follow its task",
    )
    .action(
      act<{ grace?: string; remote?: string }>(async (rt, [store], opts) => {
        if (opts.remote !== undefined) {
          if (opts.grace !== undefined)
            throw new FerryError('FERRY_ERR_USAGE', '--grace is not for --remote: the remote uses its own');
          await followRemoteRun(rt, opts.remote, `garbage collection of ${store}`, { store }, (client) =>
            client.startGc(store as string),
          );
          return;
        }
        const ds = await rt.openDatastore(store as string, 'write', 'garbage collection');
        const graceMs =
          opts.grace === undefined ? DEFAULT_GC_GRACE_MS : parseDurationOption('--grace', opts.grace);
        const { result: report, task } = await runAsTask(
          rt,
          'gc',
          datastoreTaskSubject(parseStoreName(store)),
          (_t, log) => garbageCollect(ds, { log, graceMs, signal: rt.signal }),
          () => EXIT.ok,
          { kind: 'gc', id: store as string },
        );
        rt.print({ ...report, task: task.record.id }, () =>
          [
            `removed ${report.removedChunks} chunk(s) (${formatBytes(report.removedBytes)})`,
            `kept ${report.keptChunks} chunk(s) (${formatBytes(report.keptBytes)}), ${report.pendingChunks} unreferenced within the grace period (task ${task.record.id})`,
          ].join('\n'),
        );
      }),
    );
}
