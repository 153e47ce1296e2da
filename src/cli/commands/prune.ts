import type { Command } from 'commander';
import type { DatastoreAccess } from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import type { LogMethods } from '../../log/index.js';
import {
  formatGroup,
  formatKeepOptions,
  formatSnapshot,
  type GroupRef,
  KEEP_OPTIONS,
  type KeepOptions,
  keepsSomething,
  MAX_KEEP,
  MAX_NAMESPACE_DEPTH,
  type Namespace,
  type PruneOutcome,
  parseGroup,
  parseNamespace,
  parseSnapshot,
  ROOT_NAMESPACE,
  type SnapshotRef,
} from '../../model/index.js';
import { pruneGroup, pruneTargets } from '../../store/index.js';
import type { ActionFactory } from '../action.js';
import { EXIT, exitCodeFor } from '../exit-codes.js';
import { formatTable } from '../output.js';
import { parseIntOption } from '../parse-options.js';
import type { Runtime } from '../runtime.js';
import { JOB_TASK_TYPES, runAsTask } from '../task.js';

type KeepFlags = Partial<Record<`keep${Capitalize<(typeof KEEP_OPTIONS)[number]>}`, string>>;

function keepFromFlags(opts: KeepFlags): KeepOptions {
  const keep: KeepOptions = {};
  for (const o of KEEP_OPTIONS) {
    const value = opts[`keep${o[0]?.toUpperCase()}${o.slice(1)}` as keyof KeepFlags];
    if (value !== undefined) keep[o] = parseIntOption(`--keep-${o}`, value, 0, MAX_KEEP);
  }
  return keep;
}

const KEEP_HELP: Record<(typeof KEEP_OPTIONS)[number], string> = {
  last: 'keep the N newest snapshots',
  hourly: 'keep the newest snapshot of each of the last N hours that have one',
  daily: 'keep the newest snapshot of each of the last N days that have one',
  weekly: 'keep the newest snapshot of each of the last N ISO weeks that have one',
  monthly: 'keep the newest snapshot of each of the last N months that have one',
  yearly: 'keep the newest snapshot of each of the last N years that have one',
};

/**
 * Where the retention commands act: a local datastore, or with `--remote NAME` a datastore of that remote through its
 * API (the same decisions, made by the server, in the server's time zone).
 */
interface Place {
  /** `group`, or the groups of `ns` and of the namespaces up to `maxDepth` levels below it. */
  targets(ns: Namespace, group: GroupRef | undefined, maxDepth: number): Promise<PruneTarget[]>;
  prune(ns: Namespace, group: GroupRef, keep: KeepOptions, dryRun: boolean): Promise<PruneOutcome[]>;
  forget(ns: Namespace, snapshot: SnapshotRef): Promise<void>;
  protect(ns: Namespace, snapshot: SnapshotRef, value: boolean): Promise<void>;
}

/** Where prune, forget and protect act: a local datastore, opened for `access` (`what` in a refusal), or a remote's. */
async function placeFor(
  rt: Runtime,
  store: string,
  remote: string | undefined,
  access: DatastoreAccess,
  what: string,
): Promise<Place> {
  if (remote === undefined) {
    const ds = await rt.openDatastore(store, access, what);
    return {
      targets: (ns, group, maxDepth) => pruneTargets(ds, ns, group, maxDepth),
      prune: (ns, group, keep, dryRun) => pruneGroup(ds, ns, group, { keep, dryRun }),
      forget: (ns, snapshot) => ds.removeSnapshot(ns, snapshot),
      protect: (ns, snapshot, value) => ds.setProtected(ns, snapshot, value),
    };
  }
  const client = await rt.openRemote(remote);
  return {
    targets: async (ns, group, maxDepth) => {
      if (group !== undefined) return [{ ns, group }];
      const out: PruneTarget[] = [];
      for (const child of await client.listNamespaces(store, { parent: ns, maxDepth }))
        for (const g of await client.listGroups(store, child)) out.push({ ns: child, group: g.group });
      return out;
    },
    prune: (ns, group, keep, dryRun) => client.prune(store, ns, group, keep, { dryRun }),
    forget: (ns, snapshot) => client.deleteSnapshot(store, ns, snapshot),
    protect: (ns, snapshot, value) => client.setProtected(store, ns, snapshot, value),
  };
}

interface PruneTarget {
  ns: Namespace;
  group: GroupRef;
}

type PrunedIn = PruneOutcome & { ns: Namespace };

const REMOTE_HELP = "act on this remote's datastore <store> through its API";

/** The error a prune ends with when snapshots it meant to remove stayed: the first one's code (a lock: exit 11). */
function pruneFailure(outcomes: readonly PruneOutcome[]): FerryError | undefined {
  const failed = outcomes.filter((o) => o.error !== undefined);
  const first = failed[0];
  if (first?.error === undefined) return undefined;
  return new FerryError(
    first.error.code,
    `prune: ${failed.length} snapshot(s) could not be removed; first ${formatSnapshot(first.snapshot)}: ${first.error.message}`,
  );
}

function actionOf(o: PruneOutcome, dryRun: boolean): string {
  if (o.mark !== 'remove') return o.mark;
  return o.error ? 'remove failed' : dryRun ? 'would remove' : 'removed';
}

export interface PruneRequest {
  store: string;
  /** Act on this remote's datastore through its API. */
  remote?: string | undefined;
  ns: Namespace;
  group?: GroupRef | undefined;
  /** Namespace levels below `ns` included (without `group`). */
  maxDepth: number;
  keep: KeepOptions;
  dryRun: boolean;
  /** A run of this prune job (`ferry prune-job run`): its task and job state. */
  job?: string;
}

/**
 * Prunes (or, dry, only decides) and prints the table or JSON: what `ferry prune` and `ferry prune-job run` do. A
 * prune that removes is a task, as in PBS. Throws, after printing, when snapshots it meant to remove stayed.
 */
export async function runPrune(rt: Runtime, req: PruneRequest): Promise<void> {
  const { keep, dryRun, ns } = req;
  const place = await placeFor(rt, req.store, req.remote, dryRun ? 'read' : 'write', 'prune');
  const targets = await place.targets(ns, req.group, req.maxDepth);
  const manyNamespaces = targets.some((t) => t.ns !== ns);
  const pruneAll = async (log?: LogMethods): Promise<PrunedIn[]> => {
    const out: PrunedIn[] = [];
    for (const target of targets) {
      rt.signal.throwIfAborted();
      for (const o of await place.prune(target.ns, target.group, keep, dryRun)) {
        out.push({ ...o, ns: target.ns });
        const where = manyNamespaces && target.ns !== ROOT_NAMESPACE ? `namespace ${target.ns}: ` : '';
        const line = `${where}${formatSnapshot(o.snapshot)}: ${actionOf(o, dryRun)}${o.reason ? ` (${o.reason})` : ''}`;
        if (o.error) log?.warn(`${line}: ${o.error.message}`);
        else log?.info(line);
      }
    }
    return out;
  };
  // A prune that removes is a task (ferry task list / log), as in PBS; a dry run only answers.
  const outcomes = dryRun
    ? await pruneAll()
    : (
        await runAsTask(
          rt,
          req.job === undefined ? 'prune' : JOB_TASK_TYPES.prune,
          req.job ?? (req.remote === undefined ? req.store : `${req.remote}:${req.store}`),
          (_t, log) => pruneAll(log),
          (result) => {
            const failure = pruneFailure(result);
            return failure ? exitCodeFor(failure) : EXIT.ok;
          },
          req.job === undefined ? undefined : { kind: 'prune', id: req.job },
        )
      ).result;
  const failed = outcomes.filter((o) => o.error !== undefined);
  const removed = outcomes.filter((o) => o.mark === 'remove' && (dryRun || o.removed)).length;
  const summary = keepsSomething(keep)
    ? `${dryRun ? 'would remove' : 'removed'} ${removed} of ${outcomes.length} snapshot(s) in ${targets.length} group(s) (${formatKeepOptions(keep)})${failed.length > 0 ? `; ${failed.length} could not be removed` : ''}`
    : `no keep option given: kept all ${outcomes.length} snapshot(s)`;
  const rows = outcomes.map((o) => ({
    namespace: o.ns === ROOT_NAMESPACE ? '/' : o.ns,
    snapshot: formatSnapshot(o.snapshot),
    action: actionOf(o, dryRun),
    reason: o.reason ?? o.error?.message,
  }));
  const columns = [...(manyNamespaces ? ['namespace'] : []), 'snapshot', 'action', 'reason'];
  rt.print(
    {
      store: req.store,
      ...(req.remote ? { remote: req.remote } : {}),
      ...(req.job ? { job: req.job } : {}),
      ns,
      dryRun,
      keep,
      groups: targets.map((t) => (t.ns === ns ? formatGroup(t.group) : `${t.ns}:${formatGroup(t.group)}`)),
      snapshots: outcomes.map((o) => ({
        ...(o.ns !== ns ? { ns: o.ns } : {}),
        snapshot: formatSnapshot(o.snapshot),
        mark: o.mark,
        ...(o.reason ? { reason: o.reason } : {}),
        removed: o.removed,
        ...(o.error ? { error: o.error } : {}),
      })),
      removed,
      failed: failed.length,
    },
    () => `${rows.length === 0 ? '' : `${formatTable(rows, columns)}\n`}${summary}`,
  );
  const failure = pruneFailure(outcomes);
  if (failure) throw failure;
}

export function registerPrune(program: Command, act: ActionFactory): void {
  const prune = program
    .command('prune <store> [group]')
    .description(
      'remove the snapshots of a group (or of every group in the namespace, not below it) that no keep rule keeps, as PBS does; protected snapshots stay',
    )
    .option('--ns <ns>', 'namespace', '')
    .option('--remote <name>', REMOTE_HELP)
    .option('--dry-run', 'say what would be kept and removed, remove nothing');
  for (const o of KEEP_OPTIONS) prune.option(`--keep-${o} <n>`, KEEP_HELP[o]);
  prune.option('--max-depth <n>', 'also the namespaces up to N levels below --ns (default 0: none)');
  prune.action(
    act<{ ns: string; remote?: string; dryRun?: boolean; maxDepth?: string } & KeepFlags>(
      async (rt, [store, group], opts) => {
        await runPrune(rt, {
          store: store as string,
          remote: opts.remote,
          ns: parseNamespace(opts.ns),
          group: group === undefined ? undefined : parseGroup(group),
          maxDepth:
            opts.maxDepth === undefined
              ? 0
              : parseIntOption('--max-depth', opts.maxDepth, 0, MAX_NAMESPACE_DEPTH),
          keep: keepFromFlags(opts),
          dryRun: opts.dryRun === true,
        });
      },
    ),
  );

  program
    .command('forget <store> <snapshot>')
    .description('remove one snapshot (not a protected one, nor one being read)')
    .option('--ns <ns>', 'namespace', '')
    .option('--remote <name>', REMOTE_HELP)
    .action(
      act<{ ns: string; remote?: string }>(async (rt, [store, snapshot], opts) => {
        const ref = parseSnapshot(snapshot);
        const place = await placeFor(rt, store as string, opts.remote, 'write', 'forget');
        await place.forget(parseNamespace(opts.ns), ref);
        rt.print({ store, ns: opts.ns, snapshot: formatSnapshot(ref), removed: true }, () => {
          return `removed snapshot ${formatSnapshot(ref)}`;
        });
      }),
    );

  program
    .command('protect <store> <snapshot>')
    .description('protect a snapshot from prune, forget and remove-vanished (--off lifts it)')
    .option('--ns <ns>', 'namespace', '')
    .option('--off', 'lift the protection')
    .option('--remote <name>', REMOTE_HELP)
    .action(
      act<{ ns: string; off?: boolean; remote?: string }>(async (rt, [store, snapshot], opts) => {
        const ref = parseSnapshot(snapshot);
        const value = opts.off !== true;
        const place = await placeFor(rt, store as string, opts.remote, 'write', 'protect');
        await place.protect(parseNamespace(opts.ns), ref, value);
        rt.print({ store, ns: opts.ns, snapshot: formatSnapshot(ref), protected: value }, () => {
          return `${value ? 'protected' : 'unprotected'} snapshot ${formatSnapshot(ref)}`;
        });
      }),
    );
}
