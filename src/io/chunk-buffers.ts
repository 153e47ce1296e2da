import { allocAligned } from './direct-write.js';

// Blobs smaller than this come from Node's shared pool; larger ones are lent and reused.
export const RECYCLE_MIN = 64 * 1024;
// Room for a whole fixed-size chunk blob (4 MiB plain, stored uncompressed, plus its header), so one buffer fits all.
export const RECYCLE_CAPACITY = 4 * 1024 * 1024 + 64 * 1024;

/**
 * Memory for chunk blobs, reused and bounded. At most `capacity` large blobs are lent out at once: a reader that
 * wants one more waits (a network stream stays unread, so TCP slows the sender) until a consumer hands one back with
 * `give` (nothing refers to it any more: a later frame is read into the same memory) or `release` (the consumer
 * keeps it: its memory is the consumer's to account for). One object serves all of a thread's readers, so a thread
 * allocates its handful of chunk buffers once: without this every chunk was a fresh 4 MiB allocation (page faults,
 * and garbage that only a full collection frees), and with several batches in flight per group and several streams
 * or read lanes per batch, a thread held 14 and more chunks at once. Small blobs come from Node's shared pool and
 * are not counted. The large buffers are page-aligned (`allocAligned`), so a chunk file is written from them with
 * O_DIRECT as they are, with no copy.
 */
export class ChunkBuffers {
  private readonly free: Buffer[] = [];
  // Weak: a blob the consumer keeps must not be held alive by this bookkeeping.
  private readonly lent = new WeakSet<ArrayBufferLike>();
  /** Released blobs (kept by their consumer) that may still come back through `recycle`. */
  private readonly kept = new WeakSet<ArrayBufferLike>();
  private lentCount = 0;
  private readonly waiters: (() => void)[] = [];
  readonly capacity: number;

  constructor(capacity = 4) {
    if (!(capacity >= 1)) throw new RangeError(`ChunkBuffers capacity must be at least 1, not ${capacity}`);
    this.capacity = capacity;
  }

  /** Large blobs lent out and not yet given back or released. */
  get inUse(): number {
    return this.lentCount;
  }

  /** Memory for a blob of `length` bytes; waits while `capacity` large blobs are out. */
  async take(length: number): Promise<Buffer> {
    for (;;) {
      const blob = this.tryTake(length);
      if (blob !== undefined) return blob;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Memory for a blob of `length` bytes, or undefined while `capacity` large blobs are out (then `take` waits). */
  tryTake(length: number): Buffer | undefined {
    if (length < RECYCLE_MIN) return Buffer.allocUnsafe(length);
    if (this.lentCount >= this.capacity) return undefined;
    let i = -1; // the smallest free buffer that fits
    for (let j = 0; j < this.free.length; j++) {
      const size = (this.free[j] as Buffer).length;
      if (size >= length && (i < 0 || size < (this.free[i] as Buffer).length)) i = j;
    }
    const whole =
      i >= 0 ? (this.free.splice(i, 1)[0] as Buffer) : allocAligned(Math.max(length, RECYCLE_CAPACITY));
    this.lent.add(whole.buffer);
    this.lentCount++;
    return whole.subarray(0, length);
  }

  /** `blob` (from `take`) is no longer referenced by anyone: its memory may hold a later frame. */
  give(blob: Buffer): void {
    if (this.settle(blob)) this.keepFree(blob);
  }

  /**
   * `blob` (from `take`) stays with the consumer: it no longer counts against the capacity, and is reused only if the
   * consumer hands it back with `recycle` once it is done with it.
   */
  release(blob: Buffer): void {
    if (this.settle(blob)) this.kept.add(blob.buffer);
  }

  /**
   * A blob released earlier is no longer referenced after all (a consumer that stores chunks in batches is done with
   * the batch): its memory joins the free buffers, if there is room. Anything else is ignored: a blob still lent
   * (it is settled by `give` or `release`), one recycled already, one that is not ours.
   */
  recycle(blob: Buffer): void {
    if (this.kept.delete(blob.buffer)) this.keepFree(blob);
  }

  /** The whole memory under `blob` joins the free buffers, unless `capacity` of them are free already. */
  private keepFree(blob: Buffer): void {
    if (this.free.length < this.capacity) this.free.push(Buffer.from(blob.buffer, 0, blob.buffer.byteLength));
  }

  /**
   * Hands `blob` (from `take`) to `consume` and settles it afterwards: given back when `consume` resolves `true` (it
   * no longer refers to the blob), released otherwise or when it throws (the error goes on to the caller). A consumer
   * that keeps the blob for a while calls `recycle` (its second argument) once it no longer refers to it, so a thread
   * that stores chunks in batches reuses their memory too instead of taking fresh memory for every chunk.
   */
  async handOver(blob: Buffer, consume: (blob: Buffer, recycle: () => void) => unknown): Promise<void> {
    let done = false;
    try {
      done = (await consume(blob, () => this.recycle(blob))) === true;
    } finally {
      if (done) this.give(blob);
      else this.release(blob);
    }
  }

  private settle(blob: Buffer): boolean {
    if (!this.lent.delete(blob.buffer)) return false; // not ours, or already settled
    this.lentCount--;
    this.waiters.shift()?.();
    return true;
  }
}
