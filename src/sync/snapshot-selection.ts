import { formatBackupTime } from '../model/index.js';
import type { SnapshotListing } from './sync-types.js';

export interface SelectionRules {
  direction: 'pull' | 'push';
  transferLast: number | undefined;
  verifiedOnly: boolean;
  encryptedOnly: boolean;
}

export interface Selection {
  /** Source snapshots to sync, oldest first. */
  selected: SnapshotListing[];
  /** Human-readable skip notes (one per reason). */
  skipped: string[];
  /** Every finished source snapshot time: target snapshots not among them have vanished. */
  sourceTimes: Set<number>;
}

/**
 * PBS's snapshot selection for one group:
 *   1. unfinished source snapshots are skipped; verified-only and encrypted-only filter the rest;
 *   2. pull: snapshots older than the target's newest are already synced; the newest itself is synced again (a
 *      cheap check when nothing changed); push: anything not newer than the target's newest is skipped (a writer
 *      needs strictly increasing times);
 *   3. transfer-last N keeps only the newest N of the filtered list (and, in a pull, still the re-sync of the newest).
 */
export function selectSnapshots(
  source: readonly SnapshotListing[],
  targetNewest: number | undefined,
  rules: SelectionRules,
): Selection {
  const skipped: string[] = [];
  const note = (reason: string, times: number[]) => {
    if (times.length === 0) return;
    const first = formatBackupTime(times[0] as number);
    const last = formatBackupTime(times.at(-1) as number);
    skipped.push(
      `skipped: ${times.length} snapshot(s) (${times.length === 1 ? first : `${first} .. ${last}`}) - ${reason}`,
    );
  };
  const sorted = [...source].sort((a, b) => a.time - b.time);
  note(
    'in-progress backup',
    sorted.filter((s) => !s.finished).map((s) => s.time),
  );
  const finished = sorted.filter((s) => s.finished);
  const sourceTimes = new Set(finished.map((s) => s.time));
  const unverified = rules.verifiedOnly ? finished.filter((s) => s.verifyState !== 'ok') : [];
  note(
    'not verified',
    unverified.map((s) => s.time),
  );
  const unencrypted = rules.encryptedOnly ? finished.filter((s) => !s.encrypted) : [];
  note(
    'not encrypted',
    unencrypted.map((s) => s.time),
  );
  const filtered = finished.filter((s) => !unverified.includes(s) && !unencrypted.includes(s));
  const cutoff = rules.transferLast === undefined ? 0 : Math.max(0, filtered.length - rules.transferLast);
  const already: number[] = [];
  const older: number[] = [];
  const selected: SnapshotListing[] = [];
  filtered.forEach((s, pos) => {
    const last = targetNewest ?? Number.NEGATIVE_INFINITY;
    const done = rules.direction === 'pull' ? s.time < last : s.time <= last;
    if (done) already.push(s.time);
    else if (pos < cutoff && s.time !== last) older.push(s.time);
    else selected.push(s);
  });
  note('already synced', already);
  note('due to transfer-last', older);
  return { selected, skipped, sourceTimes };
}
