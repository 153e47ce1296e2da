import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  readDatastoreConfig,
  removeDatastoreEntry,
  withConfigLocks,
  writeDatastoreConfig,
} from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import { parseStoreName } from '../../model/index.js';
import { Datastore, reindexDatastore } from '../../store/index.js';
import type { ActionFactory } from '../action.js';

export function registerDatastore(program: Command, act: ActionFactory): void {
  const cmd = program.command('datastore').description('create, list, remove and reindex datastores');

  cmd
    .command('create <name> <path>')
    .description('create a datastore in an empty or new directory and register it')
    .option('--comment <text>', 'a comment')
    .option('--pbs-layout', 'pre-create all 65536 chunk directories, as PBS expects')
    .action(
      act<{ comment?: string; pbsLayout?: boolean }>(async (rt, [name, path], opts) => {
        const storeName = parseStoreName(name);
        const dir = resolve(path as string);
        await withConfigLocks(rt.home, ['datastore'], async () => {
          const entries = await readDatastoreConfig(rt.home);
          if (entries.some((e) => e.name === storeName)) {
            throw new FerryError('FERRY_ERR_ALREADY_EXISTS', `datastore ${storeName} exists already`);
          }
          const ds = await Datastore.create(dir, {
            clock: rt.clock,
            precreateChunkDirs: opts.pbsLayout === true,
          });
          await ds.close();
          await writeDatastoreConfig(rt.home, [
            ...entries,
            { name: storeName, path: dir, ...(opts.comment ? { comment: opts.comment } : {}) },
          ]);
        });
        rt.print({ name: storeName, path: dir }, () => `created datastore ${storeName} in ${dir}`);
      }),
    );

  cmd
    .command('list')
    .description('list configured datastores')
    .action(
      act(async (rt) => {
        const entries = await readDatastoreConfig(rt.home);
        rt.printList(
          entries.map((e) => ({ name: e.name, path: e.path, comment: e.comment ?? '' })),
          ['name', 'path', 'comment'],
        );
      }),
    );

  cmd
    .command('remove <name>')
    .description(
      'unregister a datastore (its data stays unless --destroy-data; refused while a sync job uses it)',
    )
    .option('--destroy-data', 'also delete the datastore directory')
    .action(
      act<{ destroyData?: boolean }>(async (rt, [name], opts) => {
        const storeName = parseStoreName(name);
        const entry = await removeDatastoreEntry(rt.home, storeName);
        if (opts.destroyData) await rm(entry.path, { recursive: true, force: true });
        rt.print(
          { name: storeName, destroyed: opts.destroyData === true },
          () => `removed datastore ${storeName}`,
        );
      }),
    );

  cmd
    .command('reindex <name>')
    .description('rebuild the lmdb chunk index from the chunk files')
    .action(
      act(async (rt, [name]) => {
        const ds = await rt.openDatastore(name as string);
        const report = await reindexDatastore(ds, { log: rt.log, signal: rt.signal });
        rt.print(
          report,
          () =>
            `reindexed ${report.chunks} chunks (${report.bytes} bytes), skipped ${report.skipped.length} files`,
        );
      }),
    );
}
