import type { Command } from 'commander';
import { formatBytes, formatSnapshot, type GroupRef, parseGroup, parseNamespace } from '../../model/index.js';
import type { SnapshotInfo } from '../../store/index.js';
import type { ActionFactory } from '../action.js';

export function registerSnapshots(program: Command, act: ActionFactory): void {
  program
    .command('snapshots <store> [group]')
    .description('list finished snapshots (of one group, or all)')
    .option('--ns <ns>', 'namespace', '')
    .option('--all', 'also list unfinished snapshot directories (a writer at work or a crashed one)')
    .action(
      act<{ ns: string; all?: boolean }>(async (rt, [store, group], opts) => {
        const ds = await rt.openDatastore(store as string, 'read');
        const ns = parseNamespace(opts.ns);
        const groups: GroupRef[] = group
          ? [parseGroup(group)]
          : (await ds.listGroups(ns)).map((g) => g.group);
        const snaps: SnapshotInfo[] = [];
        for (const g of groups)
          snaps.push(...(await ds.listSnapshots(ns, g)).filter((s) => s.finished || opts.all));
        const rows = snaps.map((s) => ({
          snapshot: formatSnapshot(s.snapshot),
          finished: s.finished,
          size: s.size,
          files: s.manifest?.files.map((f) => f.filename),
          protected: s.protected,
          verified: s.verifyState,
        }));
        rt.printList(
          rows.map((r) => ({
            ...r,
            size: r.size === undefined ? undefined : formatBytes(r.size),
            files: r.files?.join(','),
          })),
          ['snapshot', 'size', 'files', 'protected', 'verified', ...(opts.all ? ['finished'] : [])],
          rows,
        );
      }),
    );
}
