import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseBackupSpec, runBackup } from '../../backup/index.js';
import {
  formatBytes,
  formatSnapshot,
  nowSeconds,
  parseAuthId,
  parseBackupTime,
  parseGroup,
  parseNamespace,
} from '../../model/index.js';
import type { ActionFactory } from '../action.js';

export function registerBackup(program: Command, act: ActionFactory): void {
  program
    .command('backup <store> <group> <sources...>')
    .description(
      'back up files into a new snapshot: NAME.img:FILE (fixed chunks), NAME.tar:DIR (tar, dynamic chunks), NAME.conf:FILE (blob)',
    )
    .option('--ns <ns>', 'namespace', '')
    .option('--time <time>', 'backup time YYYY-MM-DDTHH:MM:SSZ (default: now)')
    .option('--owner <auth-id>', 'owner of a new group; must match an existing one', 'root@pam')
    .action(
      act<{ ns: string; time?: string; owner: string }>(async (rt, [store, group, ...specs], opts) => {
        const sources = specs.map(parseBackupSpec).map((s) => ({ ...s, path: resolve(s.path) }));
        const ds = await rt.openDatastore(store as string, 'write', 'backup');
        const result = await runBackup(ds, {
          ns: parseNamespace(opts.ns),
          group: parseGroup(group),
          time: opts.time ? parseBackupTime(opts.time) : nowSeconds(rt.clock),
          owner: parseAuthId(opts.owner),
          sources,
          pool: rt.pool(),
          log: rt.log,
          signal: rt.signal,
        });
        const snapshot = formatSnapshot(result.snapshot);
        rt.print({ snapshot, ns: opts.ns, archives: result.archives, total: result.total }, () =>
          [
            `snapshot ${snapshot} done`,
            ...Object.entries(result.archives).map(
              ([name, s]) =>
                `  ${name}: ${formatBytes(s.bytes)} in ${s.chunks} chunks, ${s.newChunks} new (${formatBytes(s.newBytes)} written)`,
            ),
          ].join('\n'),
        );
      }),
    );
}
