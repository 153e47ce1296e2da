import { checkBackupTime, formatBackupTime, parseBackupTime } from './backup-time.js';
import { formatGroup, type GroupRef, parseGroup } from './group.js';
import { invalid } from './safe-id.js';

/** A snapshot: `type/id/YYYY-MM-DDTHH:MM:SSZ`; `time` in epoch seconds. */
export interface SnapshotRef {
  readonly group: GroupRef;
  readonly time: number;
}

export function makeSnapshot(group: GroupRef, time: unknown): SnapshotRef {
  return { group, time: checkBackupTime(time) };
}

/** Parses `vm/100/2026-01-01T00:00:00Z`. */
export function parseSnapshot(value: unknown): SnapshotRef {
  if (typeof value !== 'string') invalid('snapshot', value, 'not a string');
  const slash = value.lastIndexOf('/');
  if (slash < 0) invalid('snapshot', value, 'expected TYPE/ID/TIME');
  return { group: parseGroup(value.slice(0, slash)), time: parseBackupTime(value.slice(slash + 1)) };
}

export function formatSnapshot(snapshot: SnapshotRef): string {
  return `${formatGroup(snapshot.group)}/${formatBackupTime(snapshot.time)}`;
}
