/**
 * Chunk-sized memory that is used again instead of left to the garbage collector, for holders whose release is only
 * known later, by a callback (a socket that has taken a buffer's bytes), or never (a connection that died with
 * writes queued). `take` never waits: it reuses a free buffer that fits, else allocates; `give` keeps up to `keep`
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
  private readonly capacity: number;

  /** `capacity`: the size of each buffer allocated here (a larger request gets memory of its own, not kept). */
  constructor(options: { keep: number; capacity: number }) {
    this.keep = options.keep;
    this.capacity = options.capacity;
  }

  /** `length` bytes of memory (contents undefined). */
  take(length: number): Buffer {
    if (length > this.capacity) return Buffer.allocUnsafeSlow(length);
    const whole = this.free.pop() ?? Buffer.allocUnsafeSlow(this.capacity);
    return whole.subarray(0, length);
  }

  /** `buf` (from `take`) is referenced by no one any more. */
  give(buf: Buffer): void {
    if (buf.buffer.byteLength !== this.capacity || this.free.length >= this.keep) return;
    this.free.push(Buffer.from(buf.buffer, 0, this.capacity));
  }
}
