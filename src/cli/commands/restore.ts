import { resolve } from 'node:path';
import type { Command } from 'commander';
import { resolveArchiveName, restoreArchive } from '../../backup/index.js';
import { formatBytes, parseNamespace, parseSnapshot } from '../../model/index.js';
import type { ActionFactory } from '../action.js';

export function registerRestore(program: Command, act: ActionFactory): void {
  program
    .command('restore <store> <snapshot> <archive> <dest>')
    .description(
      'restore an archive (drive.img, etc.tar, vm.conf or the full file name) to a new file or directory',
    )
    .option('--ns <ns>', 'namespace', '')
    .action(
      act<{ ns: string }>(async (rt, [store, snapshot, archive, dest], opts) => {
        const ds = await rt.openDatastore(store as string, 'read');
        const result = await restoreArchive(
          ds,
          parseNamespace(opts.ns),
          parseSnapshot(snapshot),
          resolveArchiveName(archive as string),
          resolve(dest as string),
          { signal: rt.signal },
        );
        rt.print(result, () => `restored ${result.archive}: ${formatBytes(result.bytes)} to ${dest}`);
      }),
    );
}
