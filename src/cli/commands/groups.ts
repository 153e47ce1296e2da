import type { Command } from 'commander';
import { formatBackupTime, formatGroup, type Namespace, parseNamespace } from '../../model/index.js';
import type { Datastore, GroupInfo } from '../../store/index.js';
import type { ActionFactory } from '../action.js';

async function localGroups(ds: Datastore, ns: Namespace): Promise<GroupInfo[]> {
  await ds.requireNamespace(ns);
  return ds.listGroups(ns);
}

export function registerGroups(program: Command, act: ActionFactory): void {
  program
    .command('groups <store>')
    .description('list backup groups')
    .option('--ns <ns>', 'namespace', '')
    .option(
      '--remote <name>',
      "list this remote's datastore <store> through its API (its token needs reader on the namespace)",
    )
    .action(
      act<{ ns: string; remote?: string }>(async (rt, [store], opts) => {
        const ns = parseNamespace(opts.ns);
        // The API answers the datastore's own listing (same fields, same order), so both print alike.
        // A namespace that does not exist is an error here as in the API (exit 10), not an empty list.
        const groups =
          opts.remote === undefined
            ? await localGroups(await rt.openDatastore(store as string, 'read'), ns)
            : await (await rt.openRemote(opts.remote, { connections: 1 })).listGroups(store as string, ns);
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
