/**
 * model — Ferry's vocabulary as types: Digest, GroupRef, SnapshotRef, Namespace, ArchiveName, StoreName, AuthId,
 * backup times, byte sizes, retention rules and the injected Clock.
 *
 * Every `parse*` turns untrusted input into a branded or checked value, or throws FERRY_ERR_INVALID_VALUE naming the
 * value; nothing outside this module builds those brands by hand (except hashing, which makes digests).
 *
 * Must not: do I/O, import anything but `errors`, or read the system clock outside `clock.ts`.
 */
export {
  type ArchiveKind,
  type ArchiveName,
  archiveKind,
  CLIENT_LOG_NAME,
  isIndexArchive,
  MANIFEST_NAME,
  parseArchiveName,
} from './archive-name.js';
export { type AuthId, isTokenId, parseAuthId, userOf } from './auth-id.js';
export { checkBackupTime, formatBackupTime, parseBackupTime } from './backup-time.js';
export { formatBytes, parseByteSize } from './byte-size.js';
export {
  type CalendarEvent,
  type CalendarRange,
  nextCalendarEvent,
  parseCalendarEvent,
} from './calendar-event.js';
export { type Clock, nowSeconds, SYSTEM_CLOCK } from './clock.js';
export type { DatastoreStatus } from './datastore-status.js';
export {
  type Digest,
  digestFromBytes,
  digestOf,
  digestToBytes,
  isDigest,
  parseDigest,
  shortDigest,
} from './digest.js';
export {
  BACKUP_TYPES,
  type BackupType,
  compareGroups,
  formatGroup,
  type GroupRef,
  MAX_GROUP_ID_LENGTH,
  makeGroup,
  parseBackupType,
  parseGroup,
  sameGroup,
} from './group.js';
export { type GroupFilter, groupPassesFilters, parseGroupFilter } from './group-filter.js';
export {
  formatNamespace,
  isBelowNamespace,
  joinNamespace,
  MAX_NAMESPACE_DEPTH,
  mapNamespace,
  type Namespace,
  namespaceComponents,
  namespaceDepth,
  namespaceDir,
  namespaceParent,
  parseNamespace,
  ROOT_NAMESPACE,
} from './namespace.js';
export {
  checkKeepOptions,
  formatKeepOptions,
  isoWeek,
  KEEP_OPTIONS,
  type KeepOption,
  type KeepOptions,
  keepsSomething,
  MAX_KEEP,
  type PruneCandidate,
  type PruneDecision,
  type PruneMark,
  type PruneOutcome,
  selectPrune,
} from './prune.js';
export { checkSafeId, invalid, SAFE_ID_RE } from './safe-id.js';
export { formatSnapshot, makeSnapshot, parseSnapshot, type SnapshotRef } from './snapshot.js';
export { parseStoreName, type StoreName } from './store-name.js';
