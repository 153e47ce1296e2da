import type { ErrorCode } from '../errors/index.js';
import { invalid } from './safe-id.js';
import type { SnapshotRef } from './snapshot.js';

/**
 * Retention ("prune") as PBS decides it, so an operator's keep options mean here what they mean there:
 *   - snapshots are taken newest first; `keep-last` keeps the N newest;
 *   - each period option (hourly, daily, weekly, monthly, yearly, in that order) keeps the newest snapshot of each of
 *     the N most recent periods that hold one, counting only snapshots no earlier option kept, and skipping periods an
 *     earlier option already covered (so `--keep-last 3 --keep-daily 7` keeps three plus seven more days, not seven
 *     days of which three are the last three);
 *   - periods are calendar periods in the host's time zone (a daily backup at 00:30 local time counts for its local
 *     day); weeks are ISO weeks (Monday to Sunday, the year of the week's Thursday);
 *   - protected snapshots are always kept and count for no option;
 *   - an unfinished snapshot (no manifest: a writer at work, or a crashed one) is kept only when it is the newest of
 *     all, newer than every finished one; older ones are leftovers and go;
 *   - with no keep option at all, everything is kept (a prune that names no rule removes nothing).
 */
export const KEEP_OPTIONS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type KeepOption = (typeof KEEP_OPTIONS)[number];
export type KeepOptions = Partial<Record<KeepOption, number>>;

/** Why a snapshot stays or goes; the words are PBS's. */
export type PruneMark = 'keep' | 'protected' | 'keep-partial' | 'remove';

export interface PruneCandidate {
  /** Epoch seconds. */
  time: number;
  finished: boolean;
  protected: boolean;
}

export interface PruneDecision<T extends PruneCandidate> {
  snapshot: T;
  mark: PruneMark;
  /** The option that kept it (`keep-daily`, …); for `keep` only. */
  reason?: `keep-${KeepOption}`;
}

/** What a prune decided for one snapshot and what became of it (locally, or as a server answered). */
export interface PruneOutcome {
  snapshot: SnapshotRef;
  mark: PruneMark;
  /** The option that kept it, for `keep`. */
  reason?: string;
  /** True once removed (never in a dry run). */
  removed: boolean;
  /** Why a snapshot marked `remove` is still there (a reader holds it, it was protected meanwhile). */
  error?: { code: ErrorCode; message: string };
}

/** Largest keep count accepted (a thousand years of daily snapshots). */
export const MAX_KEEP = 365_000;

/** Checks keep counts: whole numbers 0…MAX_KEEP; 0 is the same as not given. */
export function checkKeepOptions(keep: Record<string, unknown>): KeepOptions {
  const out: KeepOptions = {};
  for (const [key, value] of Object.entries(keep)) {
    if (value === undefined) continue;
    const option = KEEP_OPTIONS.find((o) => o === key);
    if (option === undefined) invalid('keep option', key, `expected one of ${KEEP_OPTIONS.join(', ')}`);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_KEEP)
      invalid(`keep-${key}`, value, `expected a whole number from 0 to ${MAX_KEEP}`);
    if (value > 0) out[option] = value;
  }
  return out;
}

export function keepsSomething(keep: KeepOptions): boolean {
  return KEEP_OPTIONS.some((o) => (keep[o] ?? 0) > 0);
}

/** `--keep-last 3 --keep-daily 7`, for logs and messages. */
export function formatKeepOptions(keep: KeepOptions): string {
  return KEEP_OPTIONS.filter((o) => (keep[o] ?? 0) > 0)
    .map((o) => `--keep-${o} ${keep[o]}`)
    .join(' ');
}

/**
 * Decides what a prune keeps of one group's snapshots. Returns the decisions newest first. `timeZone` is an IANA
 * name (default: the host's zone, as PBS uses local time).
 */
export function selectPrune<T extends PruneCandidate>(
  snapshots: readonly T[],
  keep: KeepOptions,
  timeZone?: string,
): PruneDecision<T>[] {
  const list = [...snapshots].sort((a, b) => b.time - a.time);
  const marks = new Map<T, Omit<PruneDecision<T>, 'snapshot'>>();
  if (!keepsSomething(keep)) return list.map((snapshot) => ({ snapshot, mark: 'keep' }));

  let newestYet = true;
  for (const s of list) {
    if (!s.finished) marks.set(s, { mark: newestYet ? 'keep-partial' : 'remove' });
    newestYet = false;
  }

  const period = periodKeys(timeZone);
  for (const option of KEEP_OPTIONS) {
    const count = keep[option] ?? 0;
    if (count === 0) continue;
    const key = option === 'last' ? (s: T) => String(s.time) : (s: T) => period(s.time, option);
    const covered = new Set<string>();
    for (const [s, m] of marks) if (m.mark === 'keep') covered.add(key(s));
    const chosen = new Set<string>();
    for (const s of list) {
      if (marks.has(s)) continue;
      if (s.protected) {
        marks.set(s, { mark: 'protected' });
        continue;
      }
      const k = key(s);
      if (covered.has(k)) continue;
      if (chosen.has(k)) {
        marks.set(s, { mark: 'remove' });
        continue;
      }
      if (chosen.size >= count) break;
      chosen.add(k);
      marks.set(s, { mark: 'keep', reason: `keep-${option}` });
    }
  }
  return list.map((snapshot) => {
    if (snapshot.protected) return { snapshot, mark: 'protected' };
    return { snapshot, ...(marks.get(snapshot) ?? { mark: 'remove' }) };
  });
}

/** The calendar period of an epoch time in a time zone, as a key (`2026/11`, `2026/W48`, …). */
function periodKeys(
  timeZone: string | undefined,
): (time: number, option: Exclude<KeepOption, 'last'>) => string {
  const format = new Intl.DateTimeFormat('en-US', {
    ...(timeZone === undefined ? {} : { timeZone }),
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
  });
  return (time, option) => {
    const parts: Record<string, number> = {};
    for (const p of format.formatToParts(time * 1000))
      if (p.type !== 'literal') parts[p.type] = Number(p.value);
    const { year = 0, month = 0, day = 0, hour = 0 } = parts;
    switch (option) {
      case 'hourly':
        return `${year}/${month}/${day}/${hour}`;
      case 'daily':
        return `${year}/${month}/${day}`;
      case 'weekly': {
        const [weekYear, week] = isoWeek(year, month, day);
        return `${weekYear}/W${week}`;
      }
      case 'monthly':
        return `${year}/${month}`;
      case 'yearly':
        return `${year}`;
    }
  };
}

/** ISO 8601 week-numbering year and week of a calendar date. */
export function isoWeek(year: number, month: number, day: number): [number, number] {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7; // Monday 1 … Sunday 7
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of this week decides its year
  const weekYear = date.getUTCFullYear();
  const week = Math.floor((date.getTime() - Date.UTC(weekYear, 0, 1)) / 86_400_000 / 7) + 1;
  return [weekYear, week];
}
