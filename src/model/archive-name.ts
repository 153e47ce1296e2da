import { invalid, SAFE_ID_RE } from './safe-id.js';

/** A file of a snapshot: `*.fidx` (fixed index), `*.didx` (dynamic index) or `*.blob`. */
export type ArchiveName = string & { readonly __brand: 'ArchiveName' };
export type ArchiveKind = 'fidx' | 'didx' | 'blob';

export const MANIFEST_NAME = 'index.json.blob' as ArchiveName;
export const CLIENT_LOG_NAME = 'client.log.blob' as ArchiveName;
const MAX_ARCHIVE_NAME_LENGTH = 128;

export function parseArchiveName(value: unknown): ArchiveName {
  if (typeof value !== 'string') invalid('archive name', value, 'not a string');
  if (value.length === 0 || value.length > MAX_ARCHIVE_NAME_LENGTH) {
    invalid('archive name', value, `must be 1 to ${MAX_ARCHIVE_NAME_LENGTH} characters`);
  }
  if (!SAFE_ID_RE.test(value))
    invalid('archive name', value, 'only letters, digits, "_", "-" and "." are allowed');
  if (!/\.(fidx|didx|blob)$/.test(value) || /^\.|\.\./.test(value)) {
    invalid('archive name', value, 'expected NAME.fidx, NAME.didx or NAME.blob');
  }
  return value as ArchiveName;
}

export function archiveKind(name: ArchiveName): ArchiveKind {
  return name.slice(name.lastIndexOf('.') + 1) as ArchiveKind;
}

export function isIndexArchive(name: ArchiveName): boolean {
  return archiveKind(name) !== 'blob';
}
