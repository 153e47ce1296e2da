import { join } from 'node:path';
import {
  type ArchiveName,
  type Digest,
  formatBackupTime,
  type GroupRef,
  MANIFEST_NAME,
  type Namespace,
  namespaceDir,
  type SnapshotRef,
} from '../model/index.js';

/**
 * Where things live in a datastore. PBS's part:
 *   .chunks/<4 hex>/<64 hex>                chunk files (DataBlob)
 *   [ns/<a>/[ns/<b>/…]]<type>/<id>/owner     group owner
 *   …/<type>/<id>/<time>/index.json.blob     manifest: its presence makes the snapshot finished
 *   …/<type>/<id>/<time>/<archive>           archives;  .protected marker
 * Ferry's additions, all under .ferry/:
 *   .ferry/index/                           lmdb chunk index
 *   .ferry/locks/…                          lock files (see the locking table in index.ts)
 *   .ferry/datastore.json                   identity and format version
 */
export const CHUNKS_DIR = '.chunks';
export const FERRY_DIR = '.ferry';
export const OWNER_FILE = 'owner';
export const PROTECTED_FILE = '.protected';
export const NOTES_FILE = 'notes';

export class Layout {
  readonly base: string;

  constructor(base: string) {
    this.base = base;
  }

  get chunksDir(): string {
    return join(this.base, CHUNKS_DIR);
  }
  get ferryDir(): string {
    return join(this.base, FERRY_DIR);
  }
  get indexDir(): string {
    return join(this.base, FERRY_DIR, 'index');
  }
  get identityFile(): string {
    return join(this.base, FERRY_DIR, 'datastore.json');
  }
  get locksDir(): string {
    return join(this.base, FERRY_DIR, 'locks');
  }

  chunkPrefixDir(digest: Digest): string {
    return join(this.base, CHUNKS_DIR, digest.slice(0, 4));
  }
  chunkPath(digest: Digest): string {
    return join(this.base, CHUNKS_DIR, digest.slice(0, 4), digest);
  }

  namespacePath(ns: Namespace): string {
    return join(this.base, namespaceDir(ns));
  }
  groupPath(ns: Namespace, group: GroupRef): string {
    return join(this.base, namespaceDir(ns), group.type, group.id);
  }
  snapshotPath(ns: Namespace, snapshot: SnapshotRef): string {
    return join(this.groupPath(ns, snapshot.group), formatBackupTime(snapshot.time));
  }
  archivePath(ns: Namespace, snapshot: SnapshotRef, name: ArchiveName): string {
    return join(this.snapshotPath(ns, snapshot), name);
  }
  manifestPath(ns: Namespace, snapshot: SnapshotRef): string {
    return join(this.snapshotPath(ns, snapshot), MANIFEST_NAME);
  }

  /** Lock files mirror the namespace tree under .ferry/locks/tree so names never collide. */
  groupLockPath(ns: Namespace, group: GroupRef): string {
    return join(this.locksDir, 'tree', namespaceDir(ns), group.type, `${group.id}.group.lck`);
  }
  snapshotLockPath(ns: Namespace, snapshot: SnapshotRef): string {
    return `${this.snapshotLockStem(ns, snapshot)}.lck`;
  }
  manifestLockPath(ns: Namespace, snapshot: SnapshotRef): string {
    return `${this.snapshotLockStem(ns, snapshot)}.manifest.lck`;
  }
  private snapshotLockStem(ns: Namespace, snapshot: SnapshotRef): string {
    const g = snapshot.group;
    return join(this.locksDir, 'tree', namespaceDir(ns), g.type, g.id, formatBackupTime(snapshot.time));
  }
  namespaceLockPath(ns: Namespace): string {
    return join(this.locksDir, 'tree', namespaceDir(ns), '.namespace.lck');
  }
  gcLockPath(): string {
    return join(this.locksDir, 'gc.lck');
  }
  writersDir(): string {
    return join(this.locksDir, 'writers');
  }
  /** One lock per first digest byte: shared while a chunk is inserted, exclusive while GC sweeps that shard. */
  chunkShardLockPath(shard: number): string {
    return join(this.locksDir, 'chunks', `${shard.toString(16).padStart(2, '0')}.lck`);
  }
}
