import type { Command } from 'commander';
import type { VerifyState } from '../../format/index.js';
import {
  formatBytes,
  formatSnapshot,
  type GroupRef,
  type Namespace,
  parseGroup,
  parseNamespace,
  type SnapshotRef,
} from '../../model/index.js';
import type { ActionFactory } from '../action.js';
import type { Runtime } from '../runtime.js';

/** A snapshot as `ferry snapshots` lists it, whether a local datastore or a remote's API described it. */
interface ListedSnapshot {
  snapshot: SnapshotRef;
  finished: boolean;
  /** Sum of the manifest's file sizes; undefined while unfinished. */
  size: number | undefined;
  /** The manifest's files; undefined while unfinished (no manifest yet). */
  files: string[] | undefined;
  protected: boolean;
  verifyState: VerifyState | undefined;
}

/** The snapshots of `group`, or of every group of `ns`, in the datastore's order (groups, then time), unfinished too. */
async function localSnapshots(
  rt: Runtime,
  store: string,
  ns: Namespace,
  group: GroupRef | undefined,
): Promise<ListedSnapshot[]> {
  const ds = await rt.openDatastore(store, 'read');
  // As the API answers: a namespace or group that does not exist is an error (exit 10), not an empty list.
  if (group) await ds.requireGroup(ns, group);
  else await ds.requireNamespace(ns);
  const groups = group ? [group] : (await ds.listGroups(ns)).map((g) => g.group);
  const out: ListedSnapshot[] = [];
  for (const g of groups)
    for (const s of await ds.listSnapshots(ns, g))
      out.push({
        snapshot: s.snapshot,
        finished: s.finished,
        size: s.size,
        files: s.manifest?.files.map((f) => f.filename),
        protected: s.protected,
        verifyState: s.verifyState,
      });
  return out;
}

/** The same through a remote's API (`GET …/snapshots`: one request, unfinished ones flagged `in-progress`). */
async function remoteSnapshots(
  rt: Runtime,
  remote: string,
  store: string,
  ns: Namespace,
  group: GroupRef | undefined,
): Promise<ListedSnapshot[]> {
  const client = await rt.openRemote(remote, { connections: 1 });
  return (await client.listSnapshots(store, ns, group)).map((s) => ({
    snapshot: s.snapshot,
    finished: !s.inProgress,
    size: s.size,
    files: s.inProgress ? undefined : s.files.map((f) => f.filename),
    protected: s.protected,
    verifyState: s.verifyState,
  }));
}

export function registerSnapshots(program: Command, act: ActionFactory): void {
  program
    .command('snapshots <store> [group]')
    .description('list finished snapshots (of one group, or all)')
    .option('--ns <ns>', 'namespace', '')
    .option('--all', 'also list unfinished snapshot directories (a writer at work or a crashed one)')
    .option(
      '--remote <name>',
      "list this remote's datastore <store> through its API (its token needs reader on the namespace)",
    )
    .action(
      act<{ ns: string; all?: boolean; remote?: string }>(async (rt, [store, group], opts) => {
        const ns = parseNamespace(opts.ns);
        const only = group ? parseGroup(group) : undefined;
        const listed =
          opts.remote === undefined
            ? await localSnapshots(rt, store as string, ns, only)
            : await remoteSnapshots(rt, opts.remote, store as string, ns, only);
        const rows = listed
          .filter((s) => s.finished || opts.all)
          .map((s) => ({
            snapshot: formatSnapshot(s.snapshot),
            finished: s.finished,
            size: s.size,
            files: s.files,
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
