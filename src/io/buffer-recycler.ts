import { RECYCLE_CAPACITY, RECYCLE_MIN } from './chunk-buffers.js';

/**
 * Chunk memory that is used again instead of left to the garbage collector, for holders whose release is only
 * known later, by a callback (a socket that has taken a buffer's bytes), or never (a connection that died with
 * writes queued). Unlike ChunkBuffers (same sizes: small blobs from Node's shared pool, the rest in buffers that hold
 * a whole 4 MiB chunk's blob), `take` never waits: it reuses a free buffer, else allocates; `give` keeps up to `keep`
 * buffers for reuse and drops the rest. What is out is not counted, so a holder that never gives back costs only
 * the allocation it would have cost anyway.
 *
 * Why: a server that reads every chunk it sends into fresh memory makes megabytes of garbage per chunk. A buffer
 * that waits for a slow socket outlives the young generation, so only full (mark-compact) collections free it: on a
 * 4-thread pull they took a third of the server's main thread.
 */
export class BufferRecycler {
  private readonly free: Buffer[] = [];
  private readonly keep: number;
  /** The memory of the chunk-sized buffers this recycler made or keeps (a view of one may be lent whole). */
  private readonly owned = new WeakSet<ArrayBufferLike>();

  constructor(options: { keep: number }) {
    this.keep = options.keep;
  }

  /** `length` bytes of memory (contents undefined). */
  take(length: number): Buffer {
    if (length < RECYCLE_MIN) return Buffer.allocUnsafe(length);
    if (length > RECYCLE_CAPACITY) return Buffer.allocUnsafeSlow(length);
    let whole = this.free.pop();
    if (whole === undefined) {
      whole = Buffer.allocUnsafeSlow(RECYCLE_CAPACITY);
      this.owned.add(whole.buffer);
    }
    return whole.subarray(0, length);
  }

  /**
   * True when `buf` is a chunk-sized buffer from `take`, whose whole memory is this recycler's alone: its holder may
   * move that memory to another thread (it comes back as another ArrayBuffer, which `give` takes). Small buffers
   * share Node's pool and are never this recycler's.
   */
  owns(buf: Uint8Array): boolean {
    return buf.byteOffset === 0 && this.owned.has(buf.buffer);
  }

  /** `buf` is referenced by no one any more; kept for reuse if it is one of this recycler's sizes. */
  give(buf: Uint8Array): void {
    if (buf.buffer.byteLength !== RECYCLE_CAPACITY || this.free.length >= this.keep) return;
    this.owned.add(buf.buffer);
    this.free.push(Buffer.from(buf.buffer, 0, RECYCLE_CAPACITY));
  }
}
