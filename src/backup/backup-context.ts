import type { Logger } from '../log/index.js';
import type { ChunkPool, Datastore, SnapshotWriter, StoreResult } from '../store/index.js';

export interface BackupContext {
  ds: Datastore;
  writer: SnapshotWriter;
  pool: ChunkPool;
  log: Logger;
  signal?: AbortSignal;
}

export interface ArchiveStats {
  chunks: number;
  newChunks: number;
  /** Plain bytes of the archive. */
  bytes: number;
  /** Encoded bytes written as new chunk files. */
  newBytes: number;
}

export function emptyStats(): ArchiveStats {
  return { chunks: 0, newChunks: 0, bytes: 0, newBytes: 0 };
}

/**
 * Keeps up to `depth` chunk-store tasks in flight and hands results back in submission order, so the caller can build
 * an index while both cores hash and compress.
 */
export class OrderedChunkQueue {
  private readonly ctx: BackupContext;
  private readonly pending: Promise<StoreResult>[] = [];
  private readonly onResult: (r: StoreResult) => void;
  readonly stats: ArchiveStats = emptyStats();

  constructor(ctx: BackupContext, onResult: (r: StoreResult) => void) {
    this.ctx = ctx;
    this.onResult = onResult;
  }

  /** Submits plain chunk bytes (moved to a worker); waits while the queue is full. */
  async push(data: Buffer): Promise<void> {
    this.ctx.signal?.throwIfAborted();
    const task = this.ctx.pool.store(this.ctx.ds.path, data);
    task.catch(() => undefined); // observed when drained; avoids an unhandled rejection meanwhile
    this.pending.push(task);
    while (this.pending.length >= this.ctx.pool.depth + 2) await this.takeOne();
  }

  async drain(): Promise<void> {
    while (this.pending.length > 0) await this.takeOne();
  }

  private async takeOne(): Promise<void> {
    const r = await (this.pending.shift() as Promise<StoreResult>);
    this.stats.chunks++;
    this.stats.bytes += r.plainSize;
    if (r.isNew) {
      this.stats.newChunks++;
      this.stats.newBytes += r.encodedSize;
    }
    this.onResult(r);
  }
}
