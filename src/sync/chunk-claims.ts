import type { Digest } from '../model/index.js';

const DEFAULT_STRIPES = 1 << 16;
/** Bits of the "moved in this job" filter: 2^26 bits = 8 MiB, ~1% false positives at 5 million chunks. */
const FILTER_BITS = 1 << 26;
const FILTER_HASHES = 4;

/**
 * Job-wide chunk claims, shared by every worker thread of a sync job through a SharedArrayBuffer: a chunk wanted by
 * two groups at once crosses the wire once. The table is striped by the digest's first bytes (digests are uniform):
 * a stripe holds the id of the worker fetching a chunk in it, or 0. A worker that finds a stripe taken waits for it
 * (without blocking its thread) and then looks again whether the chunk arrived. Two different chunks in one stripe
 * only make one wait for the other, which is rare with 65536 stripes and harmless.
 *
 * No deadlock: a claim is released when its fetch ends (stored or failed), and a fetch never waits on a claim.
 */
export class ChunkClaims {
  readonly buffer: SharedArrayBuffer;
  private readonly cells: Int32Array;
  private readonly filter: Int32Array;
  private readonly owner: number;
  /** Stripes this owner holds, with how many of its chunks use each. */
  private readonly held = new Map<number, number>();

  private constructor(buffer: SharedArrayBuffer, owner: number) {
    if (owner <= 0) throw new RangeError('claim owner ids start at 1');
    this.buffer = buffer;
    const stripes = buffer.byteLength / 4 - FILTER_BITS / 32;
    this.cells = new Int32Array(buffer, 0, stripes);
    this.filter = new Int32Array(buffer, stripes * 4, FILTER_BITS / 32);
    this.owner = owner;
  }

  static createBuffer(stripes: number = DEFAULT_STRIPES): SharedArrayBuffer {
    return new SharedArrayBuffer(stripes * 4 + FILTER_BITS / 8);
  }

  /**
   * Records that this job moved a chunk (a Bloom filter: bounded memory whatever the datastore's size). A target
   * that cannot tell on its own which chunks the job brought (a remote writer session) asks only for proofs of
   * chunks that may have been moved; a false positive costs one proof that fails.
   */
  markMoved(digest: Digest): void {
    for (const bit of this.filterBits(digest)) Atomics.or(this.filter, bit >>> 5, 1 << (bit & 31));
  }

  maybeMoved(digest: Digest): boolean {
    return this.filterBits(digest).every(
      (bit) => (Atomics.load(this.filter, bit >>> 5) & (1 << (bit & 31))) !== 0,
    );
  }

  private filterBits(digest: Digest): number[] {
    // Digests are uniform: slices of one serve as independent hashes.
    return Array.from(
      { length: FILTER_HASHES },
      (_, i) => Number.parseInt(digest.slice(8 + i * 8, 16 + i * 8), 16) % FILTER_BITS,
    );
  }

  static attach(buffer: SharedArrayBuffer, owner: number): ChunkClaims {
    return new ChunkClaims(buffer, owner);
  }

  private stripe(digest: Digest): number {
    return Number.parseInt(digest.slice(0, 8), 16) % this.cells.length;
  }

  /** True when this owner may fetch the chunk now (it holds the stripe); false when another owner does. */
  tryClaim(digest: Digest): boolean {
    const s = this.stripe(digest);
    const mine = this.held.get(s);
    if (mine !== undefined) {
      this.held.set(s, mine + 1);
      return true;
    }
    if (Atomics.compareExchange(this.cells, s, 0, this.owner) !== 0) return false;
    this.held.set(s, 1);
    return true;
  }

  release(digest: Digest): void {
    const s = this.stripe(digest);
    const mine = this.held.get(s);
    if (mine === undefined) return;
    if (mine > 1) {
      this.held.set(s, mine - 1);
      return;
    }
    this.held.delete(s);
    Atomics.store(this.cells, s, 0);
    Atomics.notify(this.cells, s);
  }

  /** Resolves once nobody (else) holds the chunk's stripe. */
  async waitFree(digest: Digest, signal?: AbortSignal): Promise<void> {
    const s = this.stripe(digest);
    for (;;) {
      signal?.throwIfAborted();
      const value = Atomics.load(this.cells, s);
      if (value === 0 || value === this.owner) return;
      const waited = Atomics.waitAsync(this.cells, s, value, 1000);
      if (waited.async) await waited.value;
    }
  }

  /** Releases everything this owner holds (a worker that failed). */
  releaseAll(): void {
    for (const s of this.held.keys()) {
      Atomics.store(this.cells, s, 0);
      Atomics.notify(this.cells, s);
    }
    this.held.clear();
  }
}
