import { checkSafeId, invalid } from './safe-id.js';

export const BACKUP_TYPES = ['vm', 'ct', 'host'] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];

/** A backup group: `type/id`. */
export interface GroupRef {
  readonly type: BackupType;
  readonly id: string;
}

export const MAX_GROUP_ID_LENGTH = 128;

export function parseBackupType(value: unknown): BackupType {
  if (!BACKUP_TYPES.includes(value as BackupType)) invalid('backup type', value, 'expected vm, ct or host');
  return value as BackupType;
}

export function makeGroup(type: unknown, id: unknown): GroupRef {
  return { type: parseBackupType(type), id: checkSafeId('group id', id, MAX_GROUP_ID_LENGTH) };
}

/** Parses `vm/100`. */
export function parseGroup(value: unknown): GroupRef {
  if (typeof value !== 'string') invalid('group', value, 'not a string');
  const slash = value.indexOf('/');
  if (slash < 0) invalid('group', value, 'expected TYPE/ID');
  return makeGroup(value.slice(0, slash), value.slice(slash + 1));
}

export function formatGroup(group: GroupRef): string {
  return `${group.type}/${group.id}`;
}

export function sameGroup(a: GroupRef, b: GroupRef): boolean {
  return a.type === b.type && a.id === b.id;
}

const TYPE_ORDER: Readonly<Record<BackupType, number>> = { ct: 0, host: 1, vm: 2 };
const U64_RE = /^\d{1,19}$/;

/** PBS's order: ct < host < vm; ids numerically when both are numbers, numbers before names, else by string. */
export function compareGroups(a: GroupRef, b: GroupRef): number {
  if (a.type !== b.type) return TYPE_ORDER[a.type] - TYPE_ORDER[b.type];
  const an = U64_RE.test(a.id);
  const bn = U64_RE.test(b.id);
  if (an && bn) {
    const d = BigInt(a.id) - BigInt(b.id);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }
  if (an !== bn) return an ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
