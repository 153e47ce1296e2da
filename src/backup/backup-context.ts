import type { Logger } from '../log/index.js';
import type { ChunkPool, Datastore, RangeSource, SnapshotWriter, StoreResult } from '../store/index.js';

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
 * Keeps the chunk pool busy and hands results back in submission order, so the caller can build an index while both
 * cores hash and compress. Flow control counts unfinished tasks (not the oldest one), so one slow chunk does not idle
 * the other threads. Chunk buffers come back from the workers and are reused, which spares the allocator, the page
 * faults of fresh memory, and the garbage collector.
 */
export class OrderedChunkQueue {
  private readonly ctx: BackupContext;
  private readonly onResult: (r: StoreResult) => void;
  private readonly finished = new Map<number, StoreResult>();
  private readonly spare: Buffer[] = [];
  private submitted = 0;
  private delivered = 0;
  private inFlight = 0;
  private failure: unknown;
  private wake: (() => void) | undefined;
  readonly stats: ArchiveStats = emptyStats();

  constructor(ctx: BackupContext, onResult: (r: StoreResult) => void) {
    this.ctx = ctx;
    this.onResult = onResult;
  }

  /** A buffer of `size` bytes to read the next chunk into (recycled when one of that size is free). */
  buffer(size: number): Buffer {
    const reused = this.spare.pop();
    if (reused !== undefined && reused.length === size) return reused;
    return Buffer.allocUnsafeSlow(size);
  }

  /** Submits plain chunk bytes (moved to a worker); waits while the pool has enough to do. */
  async push(data: Buffer): Promise<void> {
    await this.submit(this.ctx.pool.store(this.ctx.ds.path, data), this.ctx.pool.memoryDepth);
  }

  /**
   * Submits a range of an open file, which a worker reads itself (no copy through this thread). The file stays
   * open until `settled()`.
   */
  async pushRange(source: RangeSource, offset: number, length: number): Promise<void> {
    await this.submit(
      this.ctx.pool.storeRange(this.ctx.ds.path, source, offset, length),
      this.ctx.pool.depth,
    );
  }

  /** Submits `task`; waits while `depth` or more (plus two, so no thread idles between tasks) are unfinished. */
  private async submit(task: Promise<StoreResult>, depth: number): Promise<void> {
    this.ctx.signal?.throwIfAborted();
    this.check();
    const seq = this.submitted++;
    this.inFlight++;
    task.then(
      (r) => {
        this.inFlight--;
        if (r.data !== undefined && this.spare.length < 4)
          this.spare.push(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength));
        this.finished.set(seq, r);
        this.deliver();
        this.wake?.();
      },
      (err: unknown) => {
        this.inFlight--;
        this.failure ??= err;
        this.wake?.();
      },
    );
    while (this.inFlight >= depth + 2 && this.failure === undefined) await this.sleep();
    this.check();
  }

  async drain(): Promise<void> {
    await this.settled();
    this.check();
    this.deliver();
  }

  /** Resolves once no task is running, whether or not one failed (a failure stops submitting, not the others). */
  async settled(): Promise<void> {
    while (this.inFlight > 0) await this.sleep();
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private deliver(): void {
    for (let r = this.finished.get(this.delivered); r !== undefined; r = this.finished.get(this.delivered)) {
      this.finished.delete(this.delivered++);
      this.stats.chunks++;
      this.stats.bytes += r.plainSize;
      if (r.isNew) {
        this.stats.newChunks++;
        this.stats.newBytes += r.encodedSize;
      }
      this.onResult(r);
    }
  }
}
