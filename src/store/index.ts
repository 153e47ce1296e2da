/**
 * store — datastores on disk: layout, the chunk store and its lmdb index, locks, the atomic snapshot writer,
 * verify, garbage collection and reindex. Knows nothing of HTTP or sync.
 *
 * Invariants
 * - A chunk file is written (temp, fsync, rename, directory fsync) before its index entry; the index is derived data.
 * - A snapshot is visible only once its manifest is renamed into place, after every archive is in place and every
 *   chunk its indexes reference is in the chunk index.
 * - Every write is atomic; a crash leaves temp files and unfinished snapshot directories, which readers ignore and
 *   the next writer, GC or verify cleans up or tolerates.
 *
 * Locking table (locks live in `.ferry/locks/`; open-file-description locks: they hold between threads and
 * processes and vanish with the process; all fail fast unless a wait is given):
 *
 *   | operation                    | takes                                              | may overlap with                |
 *   |------------------------------|----------------------------------------------------|---------------------------------|
 *   | backup / pull of a group     | group (excl), snapshot (excl), writer registration | readers of other snapshots, GC  |
 *   | read a snapshot (verify, …)  | snapshot (shared)                                  | other readers, writers of others|
 *   | remove a snapshot (prune, …) | snapshot (excl)                                    | anything but its readers        |
 *   | protect / unprotect          | snapshot (shared)                                  | readers; not a removal          |
 *   | update manifest unprotected  | manifest lock (excl, waits 5 s)                    | readers (they read it once)     |
 *   | chunk insert                 | chunk shard (shared), per insert                   | other inserts, GC of other shards|
 *   | GC                           | gc (excl); each chunk shard (excl) while sweeping  | backups, pulls (see gc.ts)      |
 *   | reindex                      | gc (excl); each chunk shard (excl)                 | backups (they wait per shard)   |
 *
 * Lock order: gc → group → snapshot → manifest → chunk shard. Nobody takes a group lock while holding a shard lock.
 *
 * Must not: import server, remote or sync; read process.env; log to stdout.
 */

export { acquireLock, Lock, type LockMode, type LockOptions } from '../io/index.js';
export { type ChunkEntry, ChunkIndex, UNKNOWN_SIZE } from './chunk-index.js';
export {
  ChunkPool,
  type ChunkPoolOptions,
  RANGE_BUFFERS_PER_THREAD,
  type RangeSource,
} from './chunk-pool.js';
export type {
  ChunkFailure,
  ChunkResult,
  ChunkTask,
  StoreResult,
  VerifiedInsert,
  VerifyResult,
} from './chunk-pool-messages.js';
export { ChunkStore, type InsertResult, shardOf } from './chunk-store.js';
export { Datastore, type DatastoreOptions, type GroupInfo, type SnapshotInfo } from './datastore.js';
export { DEFAULT_GC_GRACE_MS, type GcOptions, type GcReport, garbageCollect } from './gc.js';
export { Layout } from './layout.js';
export { type PruneOptions, pruneGroup, pruneTargets } from './prune.js';
export { type ReindexReport, reindexDatastore } from './reindex.js';
export { type BeginSnapshotOptions, SnapshotWriter } from './snapshot-writer.js';
export { datastoreStatus } from './status.js';
export { type VerifyOptions, type VerifyReport, verifyDatastore } from './verify.js';
export type { WriterRegistration } from './writer-registry.js';
