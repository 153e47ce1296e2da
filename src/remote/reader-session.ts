import { addFrame, FerryError, isFerryError } from '../errors/index.js';
import type { ChunkBuffers } from '../io/index.js';
import {
  type Digest,
  formatGroup,
  type GroupRef,
  type Namespace,
  type StoreName,
  shortDigest,
} from '../model/index.js';
import {
  type ChunkFrame,
  ChunkFrameSink,
  EmptyData,
  LIMITS,
  ProveData,
  routePath,
} from '../protocol/index.js';
import type { Transport } from './transport.js';

/**
 * Receives one chunk blob. Resolving `true` says nothing refers to `blob` any more, so its memory may hold a later
 * chunk (of any of this thread's responses); anything else leaves the blob to the caller, who may call `recycle`
 * once it no longer refers to it (its memory is then reused). A thread has a few chunk buffers (ChunkBuffers):
 * while they are all with consumers, responses wait.
 */
export type OnChunk = (digest: Digest, blob: Buffer, recycle: () => void) => unknown;

export interface FetchOptions {
  /**
   * Plain sizes of the chunks (from the index), in the order of `digests`: lets the client fill each batch close to
   * the server's byte budget. Without them it plans by count and learns the sizes from what comes back.
   */
  sizes?: readonly number[];
  signal?: AbortSignal;
}

interface Item {
  digest: Digest;
  estimate: number | undefined;
  attempts: number;
}

const DEFAULT_ESTIMATE = 256 * 1024;
/** Batches smaller than this (in digests and in bytes) are not worth a request of their own, unless it is all that is left. */
const MIN_BATCH_DIGESTS = 32;
const MIN_BATCH_BYTES = 8 * 1024 * 1024;
const BLOB_OVERHEAD = 44;

/** Files of one snapshot to have sent along with a reader session's opening (see FerryClient.openReader). */
export interface ReaderPrefetch {
  time: number;
  files: readonly string[];
}

/**
 * A reader session on the server (one group): download a snapshot's files, then fetch the chunks its indexes
 * reference in batches, or ask the server to prove it holds them. Opened by FerryClient.openReader.
 */
export class ReaderSession {
  readonly id: string;
  readonly store: StoreName;
  readonly ns: Namespace;
  readonly group: GroupRef;
  private readonly transport: Transport;
  private readonly buffers: ChunkBuffers;
  private readonly onClose: () => void;
  private closed = false;
  /** Average encoded chunk size seen so far, for batches without size hints. */
  private seen = { bytes: 0, chunks: 0 };
  /** Files the server sent with the session (`<time>/<name>`), each handed out once by `download`. */
  private readonly prefetched = new Map<string, Buffer>();

  constructor(fields: {
    id: string;
    store: StoreName;
    ns: Namespace;
    group: GroupRef;
    transport: Transport;
    /**
     * Memory for received chunks, shared by the client's sessions (two buffers unless the client is told otherwise).
     * Two overlap writing one chunk with receiving the next; more cost 4 MiB each per thread (4 threads pulling
     * 225 MiB peaked at 351 MiB with two, 394 with four, 458 with eight, 470-484 with a fresh buffer per batch).
     */
    buffers: ChunkBuffers;
    onClose: () => void;
    /** Files of one snapshot sent with the session's opening (base64, as the server's answer has them). */
    prefetched?: { time: number; files: readonly { 'file-name': string; data: string }[] };
  }) {
    this.id = fields.id;
    this.store = fields.store;
    this.ns = fields.ns;
    this.group = fields.group;
    this.transport = fields.transport;
    this.buffers = fields.buffers;
    this.onClose = fields.onClose;
    const sent = fields.prefetched;
    for (const f of sent?.files ?? [])
      this.prefetched.set(`${sent?.time}/${f['file-name']}`, Buffer.from(f.data, 'base64'));
  }

  /**
   * A file of a finished snapshot of the group (manifest, index or blob), raw. An index unlocks its chunks. A file
   * the server sent with the session is returned from memory, once.
   */
  async download(time: number, fileName: string, options: { signal?: AbortSignal } = {}): Promise<Buffer> {
    const key = `${time}/${fileName}`;
    const sent = this.prefetched.get(key);
    if (sent !== undefined) {
      this.prefetched.delete(key);
      return sent;
    }
    return this.transport.bytes({
      method: 'GET',
      path: routePath('readerDownload', { session: this.id }),
      query: { 'backup-time': time, 'file-name': fileName },
      idempotent: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * Fetches chunk blobs, many per request, several requests at once (one per pool connection), and calls `onChunk`
   * for each as it arrives (awaited: a slow consumer slows that stream). Each distinct digest is delivered once, in
   * no particular order across batches. Blobs are passed as received: the caller verifies them against its index.
   * Chunks the server defers (over its per-batch byte budget) or that a retryable failure cut off are asked for
   * again; a chunk the server does not have fails the whole call with FERRY_ERR_NOT_FOUND.
   */
  async fetchChunks(digests: readonly Digest[], onChunk: OnChunk, options: FetchOptions = {}): Promise<void> {
    const queue: Item[] = [];
    const seen = new Set<Digest>();
    digests.forEach((digest, i) => {
      if (seen.has(digest)) return;
      seen.add(digest);
      const size = options.sizes?.[i];
      queue.push({ digest, estimate: size === undefined ? undefined : size + BLOB_OVERHEAD, attempts: 0 });
    });
    // Spread the work over the pool's connections (the latency of one batch hides behind the others), within the
    // server's limits and without making batches too small to be worth a request.
    const connections = this.transport.connections;
    const totalBytes = queue.reduce((sum, item) => sum + this.estimate(item), 0);
    const perBatch = {
      digests: clamp(Math.ceil(queue.length / connections), MIN_BATCH_DIGESTS, LIMITS.maxBatchDigests),
      bytes: clamp(Math.ceil(totalBytes / connections), MIN_BATCH_BYTES, LIMITS.maxBatchBytes),
    };
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    let failure: unknown;
    let inFlight = 0;
    let waiters: (() => void)[] = [];
    const wake = () => {
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve();
    };
    const worker = async (): Promise<void> => {
      for (;;) {
        if (failure !== undefined) return;
        const batch = this.takeBatch(queue, perBatch);
        if (batch.length === 0) {
          if (inFlight === 0) return;
          await new Promise<void>((resolve) => waiters.push(resolve));
          continue;
        }
        inFlight++;
        try {
          queue.push(...(await this.runBatch(batch, onChunk, signal)));
        } catch (err) {
          failure ??= err;
          stop.abort();
        } finally {
          inFlight--;
          wake();
        }
      }
    };
    await Promise.all(Array.from({ length: this.transport.connections }, worker));
    if (failure !== undefined) throw failure;
  }

  private estimate(item: Item): number {
    if (item.estimate !== undefined) return item.estimate;
    return this.seen.chunks === 0 ? DEFAULT_ESTIMATE : Math.ceil(this.seen.bytes / this.seen.chunks);
  }

  /** The next batch: up to `limit.digests` queued chunks and (estimated) `limit.bytes`, at least one chunk. */
  private takeBatch(queue: Item[], limit: { digests: number; bytes: number }): Item[] {
    let bytes = 0;
    let n = 0;
    while (n < queue.length && n < limit.digests) {
      const size = this.estimate(queue[n] as Item);
      if (n > 0 && bytes + size > limit.bytes) break;
      bytes += size;
      n++;
    }
    return queue.splice(0, n);
  }

  /** One batch request. Returns the items to ask for again (deferred, or cut off by a retryable failure). */
  private async runBatch(batch: Item[], onChunk: OnChunk, signal: AbortSignal): Promise<Item[]> {
    const spec = {
      method: 'POST' as const,
      path: routePath('readerChunks', { session: this.id }),
      json: { digests: batch.map((b) => b.digest) },
      idempotent: true,
      signal,
    };
    let next = 0;
    const again: Item[] = [];
    let consumerError: { err: unknown } | undefined;
    // Until the response's headers are in, the transport retries the request itself: a failure before them has been
    // retried already and ends the download (asked again here, a refusing server saw 16 requests per batch).
    let answered = false;
    const buffers = this.buffers;
    const onFrame = (frame: ChunkFrame): Promise<void> | undefined => {
      const item = batch[next] as Item;
      if (frame.digest !== item.digest) {
        throw new FerryError(
          'FERRY_ERR_PROTOCOL',
          `batch download: frame ${next} is chunk ${shortDigest(frame.digest)}, expected ${shortDigest(item.digest)}`,
        );
      }
      next++;
      if (frame.status === 'deferred') {
        again.push(item);
        return undefined;
      }
      if (frame.status === 'not-found') {
        throw new FerryError(
          'FERRY_ERR_NOT_FOUND',
          `chunk ${shortDigest(item.digest)} is missing on the server`,
          {
            fields: { digest: item.digest },
          },
        );
      }
      this.seen.bytes += frame.blob.length;
      this.seen.chunks++;
      return buffers
        .handOver(frame.blob, (blob, recycle) => onChunk(frame.digest, blob, recycle))
        .catch((err: unknown) => {
          consumerError = { err };
          throw err;
        });
    };
    const frames = new ChunkFrameSink(
      {
        maxFrames: batch.length,
        maxBlob: LIMITS.maxChunkBlob,
        maxTotal: LIMITS.maxBatchBytes + LIMITS.maxChunkBlob,
      },
      buffers,
      onFrame,
    );
    try {
      try {
        await this.transport.receive(
          spec,
          (piece) => frames.push(piece),
          () => {
            answered = true;
          },
        );
        frames.end();
      } finally {
        frames.abandon();
      }
      if (next < batch.length) {
        throw new FerryError(
          'FERRY_ERR_PROTOCOL',
          `batch download: ${batch.length - next} of ${batch.length} chunks missing from the response`,
        );
      }
      return again;
    } catch (err) {
      if (consumerError !== undefined) throw consumerError.err; // the caller's own failure, as it is
      const error = this.transport.errorOf(err);
      const rest = batch.slice(next);
      const attempts = Math.max(...rest.map((r) => r.attempts), 0);
      if (
        !answered ||
        !this.transport.isRetryable(error) ||
        attempts >= this.transport.retries ||
        signal.aborted
      )
        throw addFrame(error, downloadFrame(rest.length > 0 ? rest : batch));
      await this.transport.backoff(attempts, signal);
      this.transport.log.warn(
        { err: error, chunks: rest.length },
        'batch download failed, asking again for the rest',
      );
      for (const r of rest) r.attempts++;
      return [...again, ...rest];
    }
  }

  /**
   * Asks the server to prove it holds each chunk: HMAC-SHA256(key = nonce, message = the chunk's plain bytes), or
   * undefined where it cannot (missing, encrypted). Only digests registered in this session are answered.
   */
  async proveChunks(
    nonce: Uint8Array,
    digests: readonly Digest[],
    options: { signal?: AbortSignal } = {},
  ): Promise<(Buffer | undefined)[]> {
    if (nonce.byteLength < LIMITS.minNonceBytes || nonce.byteLength > LIMITS.maxNonceBytes) {
      throw new FerryError(
        'FERRY_ERR_INVALID_VALUE',
        `a proof nonce must be ${LIMITS.minNonceBytes} to ${LIMITS.maxNonceBytes} random bytes`,
      );
    }
    const hexNonce = Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString('hex');
    const batches: Digest[][] = [];
    for (let i = 0; i < digests.length; i += LIMITS.maxProveDigests)
      batches.push(digests.slice(i, i + LIMITS.maxProveDigests));
    const results = await Promise.all(
      batches.map((batch) =>
        this.transport.json<(string | null)[]>(
          {
            method: 'POST',
            path: routePath('readerProve', { session: this.id }),
            json: { nonce: hexNonce, digests: batch },
            idempotent: true,
            ...(options.signal ? { signal: options.signal } : {}),
          },
          ProveData,
          'proof',
        ),
      ),
    );
    const out = results.flat();
    if (out.length !== digests.length) {
      throw new FerryError('FERRY_ERR_PROTOCOL', `proof: ${out.length} answers for ${digests.length} chunks`);
    }
    return out.map((h) => (h === null ? undefined : Buffer.from(h, 'hex')));
  }

  /** Ends the session on the server. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    await this.transport
      .json(
        { method: 'DELETE', path: routePath('reader', { session: this.id }), idempotent: false },
        EmptyData,
        'close',
      )
      .catch((err: unknown) => {
        if (!isFerryError(err, 'FERRY_ERR_NOT_FOUND')) throw err;
      });
  }

  toString(): string {
    return `reader ${this.id} (${this.store}:${formatGroup(this.group)})`;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** Where a batch download failed for good: the chunks it still owed. */
function downloadFrame(owed: readonly Item[]): string {
  const first = shortDigest((owed[0] as Item).digest);
  return owed.length === 1 ? `downloading chunk ${first}` : `downloading ${owed.length} chunks from ${first}`;
}
