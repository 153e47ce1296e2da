import { availableParallelism } from 'node:os';
import { deserializeError } from '../errors/index.js';
import { ThreadPool, workerFile } from '../io/index.js';
import type { Digest } from '../model/index.js';
import type {
  ChunkResult,
  ChunkTask,
  ProveResult,
  StoreResult,
  VerifiedInsert,
  VerifyResult,
} from './chunk-pool-messages.js';

const WORKER_FILE = workerFile('chunk', import.meta.url);

/**
 * A chunk thread's 4 MiB range buffers (image ranges are read into them), and the most tasks per thread that hold a
 * chunk's memory until they end (chunks handed over to store, chunks read to verify): more tasks per thread never
 * mean more memory.
 */
export const RANGE_BUFFERS_PER_THREAD = 16;

/** A file open for reading, and its name for errors. */
export interface RangeSource {
  readonly path: string;
  readonly fd: number;
}

export interface ChunkPoolOptions {
  /** Worker threads; default: one per core. */
  threads?: number;
  /**
   * Tasks each worker runs at once (default 24). Each spends most of its time waiting on the disk (reading its range,
   * writing, fsyncing and renaming its chunk file) and only ~10 ms on the CPU, so it takes many to keep a core busy;
   * a task holds one of its thread's 16 range buffers only until its chunk's bytes are written. Backup of a 1 GiB
   * image, 2 threads, side by side in one process (2026-11-29, medians, ahead in every round): since a chunk's
   * open, close and rename no longer queue in libuv's pool (src/io/file-calls.ts), 16 / 24 / 32 tasks ran 607 / 678 /
   * 657 MiB/s (6 rounds); with the range buffer handed back once written, 16 / 24 / 32 ran 637 / 751 / 751 (6
   * rounds), and 613 / 677 / 691 (8 rounds) against 16 as before. Before those two changes 16 had beaten 8 and 24
   * (651 / 717 / 696), and on the machine before (2026-11-27, faster disk latency) 8 had beaten 12 (472 vs 452).
   */
  tasksPerThread?: number;
}

/**
 * A piscina pool of real threads that hash, compress, verify and store chunks. Each worker opens its own
 * ChunkStore (own lmdb handle) for a datastore path on first use.
 */
export class ChunkPool {
  readonly threads: number;
  readonly tasksPerThread: number;
  private readonly pool: ThreadPool<ChunkTask, ChunkResult>;
  /** Datastores a task has run for: each thread that ran one keeps it open (its ChunkStore and lmdb handle). */
  private readonly opened = new Set<string>();

  constructor(options: ChunkPoolOptions = {}) {
    this.threads = options.threads ?? availableParallelism();
    this.tasksPerThread = options.tasksPerThread ?? 24;
    this.pool = new ThreadPool({
      filename: WORKER_FILE.href,
      minThreads: this.threads,
      maxThreads: this.threads,
      concurrentTasksPerWorker: this.tasksPerThread,
      idleTimeout: 60_000,
    });
  }

  /** How many tasks to keep in flight to keep every thread busy (image ranges, read into the workers' own memory). */
  get depth(): number {
    return this.threads * this.tasksPerThread;
  }

  /** How many to keep in flight when each holds a chunk's memory until it ends (RANGE_BUFFERS_PER_THREAD). */
  get memoryDepth(): number {
    return this.threads * Math.min(this.tasksPerThread, RANGE_BUFFERS_PER_THREAD);
  }

  /** Hashes `data`, and stores it compressed unless the store has it. `data` is moved to the worker (detached here). */
  async store(storePath: string, data: Uint8Array): Promise<StoreResult> {
    return (await this.run({ op: 'store', storePath, data }, movable(data))) as StoreResult;
  }

  /**
   * Verifies a received chunk blob in full (CRC, decompression, SHA-256 against `digest`, plain size at most
   * `maxSize`) and stores it unless the store has it. A blob that owns its whole buffer is moved (detached here).
   * With `lend`, the caller vouches that the whole buffer under `blob` (a view from its start) is its own: that
   * buffer is moved, and comes back as the result's `data` once the chunk is stored, for the caller to reuse.
   */
  async insert(
    storePath: string,
    digest: Digest,
    blob: Uint8Array,
    maxSize: number,
    options: { lend?: boolean } = {},
  ): Promise<VerifiedInsert> {
    const lent = options.lend === true && blob.byteOffset === 0;
    return (await this.run(
      { op: 'insert', storePath, digest, blob, maxSize, lent },
      lent ? [blob.buffer as ArrayBuffer] : movable(blob),
    )) as VerifiedInsert;
  }

  /**
   * Reads `length` bytes at `offset` of an open file in a worker, hashes them and stores them unless the store has
   * them. The caller keeps `source.fd` open until this settles.
   */
  async storeRange(
    storePath: string,
    source: RangeSource,
    offset: number,
    length: number,
  ): Promise<StoreResult> {
    const task: ChunkTask = {
      op: 'store-range',
      storePath,
      file: source.path,
      fd: source.fd,
      offset,
      length,
    };
    return (await this.run(task)) as StoreResult;
  }

  /** Reads and fully verifies one stored chunk. */
  async verify(
    storePath: string,
    digest: Digest,
    expectedSize: number | undefined,
    encrypted: boolean,
  ): Promise<VerifyResult> {
    return (await this.run({ op: 'verify', storePath, digest, expectedSize, encrypted })) as VerifyResult;
  }

  /**
   * Proofs of possession (format's chunkProof) of stored chunks for the verifier's `nonce`, made on the threads (a
   * proof reads and decodes the whole chunk: ~5 ms of CPU per 4 MiB, which a server must not spend on its event
   * loop); undefined for each chunk the store cannot prove (missing, unreadable, damaged).
   */
  async prove(
    storePath: string,
    nonce: Uint8Array,
    digests: readonly Digest[],
  ): Promise<(Buffer | undefined)[]> {
    // Its own 32 bytes: a view of a shared buffer (Node's pool) would send that whole buffer with every task.
    const key = new Uint8Array(nonce);
    return Promise.all(
      digests.map(async (digest) => {
        const r = (await this.run({ op: 'prove', storePath, digest, nonce: key })) as ProveResult;
        return r.proof === undefined
          ? undefined
          : Buffer.from(r.proof.buffer, r.proof.byteOffset, r.proof.length);
      }),
    );
  }

  private async run(task: ChunkTask, transferList: ArrayBuffer[] = []): Promise<ChunkResult> {
    this.opened.add(task.storePath);
    const result = await this.pool.run(task, transferList.length > 0 ? { transferList } : {});
    if (!result.ok) throw deserializeError(result.error);
    return result;
  }

  /** True when a task has run here for the datastore at `storePath`: some thread may hold it open. */
  hasOpened(storePath: string): boolean {
    return this.opened.has(storePath);
  }

  /** Lets the tasks already given finish, then stops the threads (which closes the datastores they hold). */
  async close(): Promise<void> {
    await this.pool.close();
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}

/** The buffer to move with a task: only one the view covers whole (a slice of a shared pool is copied instead). */
function movable(data: Uint8Array): ArrayBuffer[] {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
    ? [data.buffer as ArrayBuffer]
    : [];
}
