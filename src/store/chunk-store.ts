import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../errors/index.js';
import type { BlobParts } from '../format/index.js';
import {
  type BufferSource,
  fsyncDir,
  isDirectUnsupported,
  makeDirs,
  readWhole,
  renamePath,
  tryLockFd,
  unlockFd,
  writeTmp,
  writeTmpDirect,
} from '../io/index.js';
import { type Clock, type Digest, shortDigest } from '../model/index.js';
import { type ChunkEntry, ChunkIndex, UNKNOWN_SIZE } from './chunk-index.js';
import type { Layout } from './layout.js';

export interface InsertResult {
  /** True when this call wrote the chunk file; false when the store had it already. */
  isNew: boolean;
  encodedSize: number;
}

const SHARD_WAIT_MS = 10 * 60 * 1000;

/**
 * The chunk files in `.chunks/` and their lmdb index. One instance per thread.
 *
 * Insert is idempotent and safe across threads and processes:
 *   1. touch the index entry; if it exists the chunk is a duplicate (its lastUsed moves to now);
 *   2. otherwise, holding the chunk's shard lock shared (GC holds it exclusive while it sweeps that shard):
 *      re-check, write a temp file (O_DIRECT where the file system takes it), fsync, rename to
 *      `.chunks/<prefix>/<digest>`, fsync the directory, and only then add the index entry.
 * Two writers racing on the same digest both write identical-by-digest content; the rename is atomic, so the file
 * is always one whole valid chunk.
 */
export class ChunkStore {
  readonly layout: Layout;
  readonly index: ChunkIndex;
  private readonly clock: Clock;
  private readonly knownDirs = new Set<string>();
  private readonly shardFiles = new Map<number, Promise<FileHandle>>();
  private lockDir: Promise<void> | undefined;
  private readonly shardUsers = new Map<number, number>();
  /** Chunk files are written with O_DIRECT until the file system refuses it (then buffered, for this instance). */
  private direct = true;

  constructor(layout: Layout, index: ChunkIndex, clock: Clock) {
    this.layout = layout;
    this.index = index;
    this.clock = clock;
  }

  static open(layout: Layout, clock: Clock): ChunkStore {
    return new ChunkStore(layout, ChunkIndex.open(layout.indexDir), clock);
  }

  has(digest: Digest): boolean {
    return this.index.has(digest);
  }

  get(digest: Digest): ChunkEntry | undefined {
    return this.index.get(digest);
  }

  /**
   * Marks a chunk as used now; undefined if the store does not have it. With `insertedBy`, also records that this
   * sync job verified the chunk from its source.
   */
  async touch(digest: Digest, insertedBy?: number): Promise<ChunkEntry | undefined> {
    return this.index.touch(digest, this.clock.now(), insertedBy);
  }

  /**
   * Stores a chunk blob under `digest`. The caller has verified that `blob` (one buffer, or the pieces of one) is the
   * DataBlob of content with that digest; `plainSize` is undefined for encrypted chunks. `onWritten`, when given, is
   * called as soon as `blob` is no longer read (its bytes written to the temp file, before the fsync, rename and
   * index entry), so the caller may reuse its memory while the insert finishes; an insert that needs no write (the
   * chunk is there) never calls it.
   */
  async insert(
    digest: Digest,
    blob: Uint8Array | BlobParts,
    plainSize: number | undefined,
    options: { insertedBy?: number; onWritten?: () => void } = {},
  ): Promise<InsertResult> {
    const encodedSize = blob.length;
    const existing = await this.touch(digest, options.insertedBy);
    if (existing) return { isNew: false, encodedSize: existing.encodedSize };
    return this.withShard(shardOf(digest), async () => {
      const again = await this.touch(digest, options.insertedBy);
      if (again) return { isNew: false, encodedSize: again.encodedSize };
      const dir = this.layout.chunkPrefixDir(digest);
      if (!this.knownDirs.has(dir)) {
        await makeDirs(dir);
        this.knownDirs.add(dir);
      }
      const path = this.layout.chunkPath(digest);
      const tmp = await this.writeChunkFile(
        path,
        blob instanceof Uint8Array ? blob : blob.parts,
        options.onWritten,
      );
      try {
        await renamePath(tmp, path);
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
      await fsyncDir(dir);
      await this.index.put(digest, {
        encodedSize,
        plainSize: plainSize ?? UNKNOWN_SIZE,
        lastUsed: this.clock.now(),
        insertedBy: options.insertedBy ?? 0,
      });
      return { isNew: true, encodedSize };
    });
  }

  /** Writes a chunk's temp file (fsynced) past the page cache where the file system allows, else buffered. */
  private async writeChunkFile(
    path: string,
    data: Uint8Array | readonly Uint8Array[],
    onWritten: (() => void) | undefined,
  ): Promise<string> {
    if (this.direct) {
      let written = false;
      try {
        return await writeTmpDirect(path, data, 0o644, () => {
          written = true;
          onWritten?.();
        });
      } catch (err) {
        // Once `data` is handed back its memory may hold something else: never write it again from there.
        if (!isDirectUnsupported(err) || written) throw err;
        this.direct = false;
      }
    }
    return writeTmp(path, data, 0o644, onWritten);
  }

  /** Reads a chunk file's bytes (the DataBlob, unchecked), into memory from `buffers` when given. */
  async read(digest: Digest, buffers?: BufferSource): Promise<Buffer> {
    try {
      return await readWhole(this.layout.chunkPath(digest), buffers);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new FerryError(
          'FERRY_ERR_NOT_FOUND',
          `chunk ${shortDigest(digest)} is missing from the chunk store`,
          {
            fields: { digest },
          },
        );
      }
      throw err;
    }
  }

  async fileSize(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.layout.chunkPath(digest))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Moves a damaged chunk aside as `<digest>.<n>.bad` (PBS's naming) and drops its index entry, so the next backup
   * or sync that needs it writes a good copy.
   */
  async quarantine(digest: Digest): Promise<string | undefined> {
    return this.withShard(shardOf(digest), async () => {
      const path = this.layout.chunkPath(digest);
      await this.index.remove(digest);
      for (let n = 0; n < 10; n++) {
        const bad = `${path}.${n}.bad`;
        try {
          await stat(bad);
        } catch {
          try {
            await rename(path, bad);
            return bad;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
            throw err;
          }
        }
      }
      await unlink(path).catch(() => undefined);
      return undefined;
    });
  }

  /**
   * Holds the shard lock shared for `fn`. The lock file of each shard stays open for the life of this store and is
   * locked and unlocked with fcntl only (no open, stat or close per insert); the lock is taken when the first
   * insert into the shard starts and dropped when the last one ends.
   */
  private async withShard<T>(shard: number, fn: () => Promise<T>): Promise<T> {
    const fh = await this.shardFile(shard);
    if ((this.shardUsers.get(shard) ?? 0) === 0) {
      const deadline = performance.now() + SHARD_WAIT_MS;
      let delay = 2;
      while (!tryLockFd(fh.fd, 'shared')) {
        if (performance.now() > deadline) {
          throw new FerryError(
            'FERRY_ERR_LOCKED',
            `chunk shard ${shard.toString(16).padStart(2, '0')} is locked by another task`,
          );
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 50);
      }
    }
    this.shardUsers.set(shard, (this.shardUsers.get(shard) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const left = (this.shardUsers.get(shard) ?? 1) - 1;
      this.shardUsers.set(shard, left);
      if (left === 0) unlockFd(fh.fd);
    }
  }

  /**
   * The shard's lock file, open for the life of this store. Their directory is made once per store, not once per
   * shard: each mkdir went through libuv's pool, behind the chunk writes and fsyncs (up to 256 per store, and a
   * sync thread opens a store per group).
   */
  private async shardFile(shard: number): Promise<FileHandle> {
    let opening = this.shardFiles.get(shard);
    if (opening === undefined) {
      const path = this.layout.chunkShardLockPath(shard);
      this.lockDir ??= makeDirs(dirname(path)).catch((err: unknown) => {
        this.lockDir = undefined; // the next shard tries again
        throw err;
      });
      opening = this.lockDir.then(() => open(path, 'a+', 0o644));
      this.shardFiles.set(shard, opening);
    }
    return opening;
  }

  async close(): Promise<void> {
    for (const fh of this.shardFiles.values()) await (await fh.catch(() => undefined))?.close();
    this.shardFiles.clear();
    await this.index.close();
  }
}

export function shardOf(digest: Digest): number {
  return Number.parseInt(digest.slice(0, 2), 16);
}
