import { FerryError } from '../errors/index.js';
import {
  type GroupRef,
  type KeepOptions,
  type Namespace,
  type PruneOutcome,
  selectPrune,
} from '../model/index.js';
import type { Datastore } from './datastore.js';

export interface PruneOptions {
  keep: KeepOptions;
  /** Decide and report, remove nothing. */
  dryRun?: boolean;
  /** IANA zone the periods are counted in (default: the host's). */
  timeZone?: string;
}

/**
 * Applies retention to one group: decides with selectPrune, then removes each snapshot marked `remove`, each under
 * its own lock. The group is not locked: a backup may run meanwhile (its unfinished snapshot is the newest, kept as
 * `keep-partial`, and its lock would refuse removal anyway). A snapshot that cannot be removed (a reader holds it,
 * it was protected in the meantime) is reported with the cause and the rest go on; nothing else is touched.
 */
export async function pruneGroup(
  ds: Datastore,
  ns: Namespace,
  group: GroupRef,
  options: PruneOptions,
): Promise<PruneOutcome[]> {
  const snapshots = await ds.listSnapshots(ns, group, { manifests: false });
  const decisions = selectPrune(
    snapshots.map((s) => ({ ...s, time: s.snapshot.time })),
    options.keep,
    options.timeZone,
  );
  const out: PruneOutcome[] = [];
  for (const d of decisions) {
    const outcome: PruneOutcome = {
      snapshot: d.snapshot.snapshot,
      mark: d.mark,
      ...(d.reason ? { reason: d.reason } : {}),
      removed: false,
    };
    if (d.mark === 'remove' && !options.dryRun) {
      try {
        await ds.removeSnapshot(ns, d.snapshot.snapshot);
        outcome.removed = true;
      } catch (err) {
        if (!(err instanceof FerryError)) throw err;
        if (err.code !== 'FERRY_ERR_NOT_FOUND') outcome.error = { code: err.code, message: err.message };
        else outcome.removed = true; // gone already (another prune): what was asked for holds
      }
    }
    out.push(outcome);
  }
  return out;
}

/**
 * The groups a prune covers: `group`, or every group of `ns` and of the namespaces up to `maxDepth` levels below it
 * (0, the default: `ns` only).
 */
export async function pruneTargets(
  ds: Datastore,
  ns: Namespace,
  group?: GroupRef,
  maxDepth = 0,
): Promise<{ ns: Namespace; group: GroupRef }[]> {
  // A mistyped namespace or group is "not found", not "0 groups pruned".
  if (group !== undefined) {
    await ds.requireGroup(ns, group);
    return [{ ns, group }];
  }
  await ds.requireNamespace(ns);
  const out: { ns: Namespace; group: GroupRef }[] = [];
  for await (const target of ds.walkGroups(ns, maxDepth)) out.push(target);
  return out;
}
