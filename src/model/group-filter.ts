import { BACKUP_TYPES, type BackupType, formatGroup, type GroupRef, parseGroup } from './group.js';
import { invalid } from './safe-id.js';

/**
 * PBS's group filters: `[include:|exclude:]type:<vm|ct|host>`, `…group:<type/id>`, `…regex:<re>`. With no include
 * filter every group is included, else a group must match any include; then any matching exclude removes it.
 * `regex:` is unanchored and matched against "type/id".
 */
export type GroupFilter =
  | {
      readonly mode: 'include' | 'exclude';
      readonly kind: 'type';
      readonly type: BackupType;
      readonly text: string;
    }
  | {
      readonly mode: 'include' | 'exclude';
      readonly kind: 'group';
      readonly group: GroupRef;
      readonly text: string;
    }
  | {
      readonly mode: 'include' | 'exclude';
      readonly kind: 'regex';
      readonly regex: RegExp;
      readonly text: string;
    };

export function parseGroupFilter(value: unknown): GroupFilter {
  if (typeof value !== 'string') invalid('group filter', value, 'not a string');
  let rest = value;
  let mode: 'include' | 'exclude' = 'include';
  if (rest.startsWith('exclude:')) {
    mode = 'exclude';
    rest = rest.slice('exclude:'.length);
  } else if (rest.startsWith('include:')) {
    rest = rest.slice('include:'.length);
  }
  const colon = rest.indexOf(':');
  const kind = colon < 0 ? '' : rest.slice(0, colon);
  const arg = rest.slice(colon + 1);
  if (kind === 'type') {
    if (!BACKUP_TYPES.includes(arg as BackupType))
      invalid('group filter', value, 'type: must be vm, ct or host');
    return { mode, kind, type: arg as BackupType, text: value };
  }
  if (kind === 'group') return { mode, kind, group: parseGroup(arg), text: value };
  if (kind === 'regex') {
    if (arg.length === 0 || arg.length > 1024)
      invalid('group filter', value, 'regex: must be 1 to 1024 characters');
    try {
      return { mode, kind, regex: new RegExp(arg), text: value };
    } catch (err) {
      invalid('group filter', value, `bad regular expression: ${(err as Error).message}`);
    }
  }
  return invalid('group filter', value, 'expected [include:|exclude:]type:…, group:… or regex:…');
}

function matches(filter: GroupFilter, group: GroupRef): boolean {
  if (filter.kind === 'type') return group.type === filter.type;
  if (filter.kind === 'group') return group.type === filter.group.type && group.id === filter.group.id;
  return filter.regex.test(formatGroup(group));
}

export function groupPassesFilters(group: GroupRef, filters: readonly GroupFilter[]): boolean {
  const includes = filters.filter((f) => f.mode === 'include');
  if (includes.length > 0 && !includes.some((f) => matches(f, group))) return false;
  return !filters.some((f) => f.mode === 'exclude' && matches(f, group));
}
