import { open as openLmdb, type RootDatabase } from 'lmdb';
import { type Digest, digestFromBytes, digestToBytes } from '../model/index.js';

/**
 * The lmdb chunk index in `.ferry/index`: digest → encoded size, plain size, last-used time. It answers "do we have
 * this chunk?" without a stat, and holds GC's liveness clock (file atime is unreliable under noatime/relatime).
 *
 * Invariant: an entry exists only for a chunk file that was written (tmp, fsync, rename) before the entry. The
 * index is derived data: `reindex` rebuilds it from `.chunks/`, `verify` checks both directions.
 *
 * Each thread opens its own handle; lmdb serialises write transactions between threads and processes, which is
 * what makes touch (writers) and remove-if-old (GC) safe against each other.
 */
export interface ChunkEntry {
  /** Bytes of the chunk file (the DataBlob). */
  encodedSize: number;
  /** Plain bytes, or UNKNOWN_SIZE for encrypted chunks. */
  plainSize: number;
  /** Milliseconds since the epoch; GC removes unreferenced chunks whose lastUsed is before its cutoff. */
  lastUsed: number;
  /**
   * The sync job that last brought this chunk in from a source and verified it (a random job token; 0 for backups
   * and reindex). A later group of the same job may use the chunk without downloading or proving it again.
   */
  insertedBy: number;
}

export const UNKNOWN_SIZE = 0xffffffff;
const VALUE_SIZE = 20;

/**
 * The index's memory map, reserved whole when it opens so that it never has to grow. lmdb-js (3.5) starts a map at
 * 128 KiB and grows it on demand, keeping each old map until the environment closes; the threads of a process share
 * one environment, and two threads that grow it at the same moment can record an old map with the new, larger size.
 * Closing then unmaps memory past that old map, whatever lies there: a shared library's code or data, and the
 * process dies by SIGSEGV as its worker threads exit (seen under strace in 2 of 20 runs of the concurrency test's
 * writers, each time right after two threads had both grown the map to 512 KiB). 64 GiB is address space, not disk
 * or memory (the file grows with its data): room for ~400 million entries at the ~160 bytes each that random digests
 * take, the chunks of over a petabyte. An index larger than that still grows, as before.
 */
const INDEX_MAP_SIZE = 64 * 2 ** 30;

function encodeEntry(e: ChunkEntry): Buffer {
  const b = Buffer.allocUnsafe(VALUE_SIZE);
  b.writeUInt32LE(e.encodedSize, 0);
  b.writeUInt32LE(e.plainSize, 4);
  b.writeDoubleLE(e.lastUsed, 8);
  b.writeUInt32LE(e.insertedBy >>> 0, 16);
  return b;
}

function decodeEntry(b: Buffer | undefined): ChunkEntry | undefined {
  if (b === undefined || (b.length !== VALUE_SIZE && b.length !== 16)) return undefined;
  return {
    encodedSize: b.readUInt32LE(0),
    plainSize: b.readUInt32LE(4),
    lastUsed: b.readDoubleLE(8),
    insertedBy: b.length === VALUE_SIZE ? b.readUInt32LE(16) : 0,
  };
}

export class ChunkIndex {
  private readonly db: RootDatabase<Buffer, Buffer>;

  private constructor(db: RootDatabase<Buffer, Buffer>) {
    this.db = db;
  }

  static open(path: string): ChunkIndex {
    const db = openLmdb<Buffer, Buffer>({
      path,
      keyEncoding: 'binary',
      encoding: 'binary',
      compression: false,
      cache: false,
      mapSize: INDEX_MAP_SIZE,
      // lmdb-js's overlapping sync (its default off Windows: flush after the write lock is let go) let two processes
      // writing one index fail a commit ("Commit failed") and leave the other spinning in its commit for good, or
      // crash it (SIGSEGV, abort): 2 of 52 runs of two 2-thread inserting processes and one CI run, 0 of 40 without.
      overlappingSync: false,
    });
    return new ChunkIndex(db);
  }

  get(digest: Digest): ChunkEntry | undefined {
    return decodeEntry(this.db.get(digestToBytes(digest)));
  }

  has(digest: Digest): boolean {
    return this.db.doesExist(digestToBytes(digest));
  }

  /** Records a chunk (after its file is in place). Resolves when committed. */
  async put(digest: Digest, entry: ChunkEntry): Promise<void> {
    await this.db.put(digestToBytes(digest), encodeEntry(entry));
  }

  /**
   * In one write transaction: if the chunk is indexed, moves its lastUsed forward to `now` (never back) and returns
   * the entry; otherwise returns undefined. A GC that removed the entry first makes this return undefined, and the
   * caller writes the chunk again.
   */
  async touch(digest: Digest, now: number, insertedBy?: number): Promise<ChunkEntry | undefined> {
    // A plain read answers the common cases (absent; used recently enough) without a write transaction. Every
    // decision that matters is re-made inside the transaction below.
    const seen = this.get(digest);
    if (
      seen === undefined ||
      (seen.lastUsed >= now && (insertedBy === undefined || seen.insertedBy === insertedBy))
    )
      return seen;
    const key = digestToBytes(digest);
    return this.db.transaction(() => {
      const entry = decodeEntry(this.db.get(key));
      if (entry === undefined) return undefined;
      if (entry.lastUsed < now || (insertedBy !== undefined && entry.insertedBy !== insertedBy)) {
        entry.lastUsed = Math.max(entry.lastUsed, now);
        if (insertedBy !== undefined) entry.insertedBy = insertedBy;
        this.db.putSync(key, encodeEntry(entry));
      }
      return entry;
    });
  }

  /** Touches many digests in one transaction (GC's mark phase); returns how many were indexed. */
  async touchMany(digests: Iterable<Digest>, now: number): Promise<number> {
    const keys = [...digests].map(digestToBytes);
    return this.db.transaction(() => {
      let found = 0;
      for (const key of keys) {
        const entry = decodeEntry(this.db.get(key));
        if (entry === undefined) continue;
        found++;
        if (entry.lastUsed < now) {
          entry.lastUsed = now;
          this.db.putSync(key, encodeEntry(entry));
        }
      }
      return found;
    });
  }

  /** In one write transaction: removes the entry if its lastUsed is before `cutoff`. Returns the removed entry. */
  async removeIfUnusedSince(digest: Digest, cutoff: number): Promise<ChunkEntry | undefined> {
    const key = digestToBytes(digest);
    return this.db.transaction(() => {
      const entry = decodeEntry(this.db.get(key));
      if (entry === undefined || entry.lastUsed >= cutoff) return undefined;
      this.db.removeSync(key);
      return entry;
    });
  }

  async remove(digest: Digest): Promise<void> {
    await this.db.remove(digestToBytes(digest));
  }

  /** Entries in digest order, optionally only those whose first byte is `shard`. */
  *entries(shard?: number): Generator<[Digest, ChunkEntry]> {
    const range =
      shard === undefined
        ? {}
        : { start: Buffer.from([shard]), ...(shard < 255 ? { end: Buffer.from([shard + 1]) } : {}) };
    for (const { key, value } of this.db.getRange(range)) {
      const entry = decodeEntry(value);
      if (entry !== undefined && key.length === 32) yield [digestFromBytes(key), entry];
    }
  }

  count(): number {
    return this.db.getCount();
  }

  async clear(): Promise<void> {
    await this.db.clearAsync();
  }

  /** Resolves when every write so far is on disk. */
  async flushed(): Promise<void> {
    await this.db.flushed;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
