import type { Command } from 'commander';
import { FerryError } from '../../errors/index.js';
import {
  formatGroup,
  formatKeepOptions,
  formatSnapshot,
  KEEP_OPTIONS,
  type KeepOptions,
  keepsSomething,
  MAX_KEEP,
  parseGroup,
  parseNamespace,
  parseSnapshot,
} from '../../model/index.js';
import { type PruneOutcome, pruneGroup, pruneTargets } from '../../store/index.js';
import type { ActionFactory } from '../action.js';
import { formatTable } from '../output.js';
import { parseIntOption } from '../parse-options.js';

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

export function registerPrune(program: Command, act: ActionFactory): void {
  const prune = program
    .command('prune <store> [group]')
    .description(
      'remove the snapshots of a group (or of every group in the namespace) that no keep rule keeps, as PBS does; protected snapshots stay',
    )
    .option('--ns <ns>', 'namespace', '')
    .option('--dry-run', 'say what would be kept and removed, remove nothing');
  for (const o of KEEP_OPTIONS) prune.option(`--keep-${o} <n>`, KEEP_HELP[o]);
  prune.action(
    act<{ ns: string; dryRun?: boolean } & KeepFlags>(async (rt, [store, group], opts) => {
      const keep = keepFromFlags(opts);
      const ds = await rt.openDatastore(store as string);
      const ns = parseNamespace(opts.ns);
      const groups = await pruneTargets(ds, ns, group === undefined ? undefined : parseGroup(group));
      const outcomes: PruneOutcome[] = [];
      for (const g of groups) {
        rt.signal.throwIfAborted();
        outcomes.push(...(await pruneGroup(ds, ns, g, { keep, dryRun: opts.dryRun === true })));
      }
      const dryRun = opts.dryRun === true;
      const failed = outcomes.filter((o) => o.error !== undefined);
      const removed = outcomes.filter((o) => o.mark === 'remove' && (dryRun || o.removed)).length;
      const summary = keepsSomething(keep)
        ? `${dryRun ? 'would remove' : 'removed'} ${removed} of ${outcomes.length} snapshot(s) in ${groups.length} group(s) (${formatKeepOptions(keep)})${failed.length > 0 ? `; ${failed.length} could not be removed` : ''}`
        : `no keep option given: kept all ${outcomes.length} snapshot(s)`;
      const rows = outcomes.map((o) => ({
        snapshot: formatSnapshot(o.snapshot),
        action:
          o.mark !== 'remove' ? o.mark : o.error ? 'remove failed' : dryRun ? 'would remove' : 'removed',
        reason: o.reason ?? o.error?.message,
      }));
      rt.print(
        {
          store,
          ns,
          dryRun,
          keep,
          groups: groups.map(formatGroup),
          snapshots: outcomes.map((o) => ({
            snapshot: formatSnapshot(o.snapshot),
            mark: o.mark,
            ...(o.reason ? { reason: o.reason } : {}),
            removed: o.removed,
            ...(o.error ? { error: o.error } : {}),
          })),
          removed,
          failed: failed.length,
        },
        () =>
          `${rows.length === 0 ? '' : `${formatTable(rows, ['snapshot', 'action', 'reason'])}\n`}${summary}`,
      );
      const first = failed[0];
      if (first?.error) {
        throw new FerryError(
          first.error.code,
          `prune: ${failed.length} snapshot(s) could not be removed; first ${formatSnapshot(first.snapshot)}: ${first.error.message}`,
        );
      }
    }),
  );

  program
    .command('forget <store> <snapshot>')
    .description('remove one snapshot (not a protected one, nor one being read)')
    .option('--ns <ns>', 'namespace', '')
    .action(
      act<{ ns: string }>(async (rt, [store, snapshot], opts) => {
        const ds = await rt.openDatastore(store as string);
        const ref = parseSnapshot(snapshot);
        await ds.removeSnapshot(parseNamespace(opts.ns), ref);
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
    .action(
      act<{ ns: string; off?: boolean }>(async (rt, [store, snapshot], opts) => {
        const ds = await rt.openDatastore(store as string);
        const ref = parseSnapshot(snapshot);
        const value = opts.off !== true;
        await ds.setProtected(parseNamespace(opts.ns), ref, value);
        rt.print({ store, ns: opts.ns, snapshot: formatSnapshot(ref), protected: value }, () => {
          return `${value ? 'protected' : 'unprotected'} snapshot ${formatSnapshot(ref)}`;
        });
      }),
    );
}
