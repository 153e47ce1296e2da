import type { Command } from 'commander';
import { formatBackupTime, formatGroup, parseNamespace } from '../../model/index.js';
import type { ActionFactory } from '../action.js';

export function registerGroups(program: Command, act: ActionFactory): void {
  program
    .command('groups <store>')
    .description('list backup groups')
    .option('--ns <ns>', 'namespace', '')
    .action(
      act<{ ns: string }>(async (rt, [store], opts) => {
        const ds = await rt.openDatastore(store as string, 'read');
        const groups = await ds.listGroups(parseNamespace(opts.ns));
        const rows = groups.map((g) => ({
          group: formatGroup(g.group),
          owner: g.owner,
          snapshots: g.snapshotCount,
          'last-snapshot': g.lastSnapshot === undefined ? undefined : formatBackupTime(g.lastSnapshot),
        }));
        rt.printList(rows, ['group', 'owner', 'snapshots', 'last-snapshot']);
      }),
    );
}
