/**
 * backup — the client side of a datastore: turn files and directory trees into snapshots (fixed chunks for images,
 * content-defined chunks over a tar stream for trees, blobs for small files) and restore them.
 *
 * Hashing and compression run on the ChunkPool's worker threads; the main thread reads and orders results.
 * Must not: bypass SnapshotWriter (it owns atomic publication), or know about sync or HTTP.
 */
export type { ArchiveStats } from './backup-context.js';
export { type BackupSource, parseBackupSpec, resolveArchiveName, type SourceKind } from './backup-spec.js';
export { type RestoreResult, restoreArchive } from './restore.js';
export { type BackupRequest, type BackupResult, runBackup } from './run-backup.js';
