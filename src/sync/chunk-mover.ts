import { FerryError, inContext } from '../errors/index.js';
import { type ArchiveIndex, checkBlob, isEncryptedKind, verifyChunk } from '../format/index.js';
import { TaskWindow } from '../io/index.js';
import type { ProgressCounters } from '../log/index.js';
import { type Digest, shortDigest } from '../model/index.js';
import type { ChunkClaims } from './chunk-claims.js';
import type { ChunkToStore, SourceGroupReader, TargetSnapshotWriter } from './sync-types.js';

/**
 * Chunks of one batch whose bytes are written and whose stores are still finishing (fsyncs, rename, index entry) at
 * once: the next chunk is received, verified and written while the one before it is made durable. A group has
 * several batches in flight, so a thread has as many stores finishing. Against holding each chunk's memory until it
 * is stored, same sitting (2026-11-29, medians): a 450 MiB pull with 2 threads 125 -> 144 MiB/s (5 rounds, ahead in
 * each), a 670 MiB local migration with 2 threads 2.80 -> 2.63 s (4 rounds). 1 and 4 pulled alike (164 vs 168
 * MiB/s), and 4 put the memory scenario's 8 threads at 473-483 MiB peak against 455 with 1 (the target 470).
 */
const FINISHING_PER_BATCH = 1;

export interface TransferOptions {
  /** Chunks per batch request. */
  batchChunks: number;
  /** Plain bytes per batch request (a batch closes at whichever limit comes first). */
  batchBytes: number;
  /** Batch requests in flight at once per group (spread over the client's connections). */
  inFlight: number;
  /** Chunks to verify in full (CRC, crypt mode, decompression, SHA-256, length): always for a pull. */
  verify: 'full' | 'crc';
}

export const DEFAULT_TRANSFER: TransferOptions = {
  batchChunks: 64,
  batchBytes: 16 * 1024 * 1024,
  inFlight: 4,
  verify: 'full',
};

/** What one archive's chunks cost: the honest counts behind the summary. */
export interface MoveStats {
  chunks: number;
  fetched: number;
  fetchedBytes: number;
  reused: number;
  proven: number;
}

/** An archive index of the group's next snapshot, checked against that snapshot's manifest. */
export interface AheadIndex {
  index: ArchiveIndex;
  encrypted: boolean;
}

interface Needed {
  digest: Digest;
  /** Plain length the index gives (for verification and batch sizing). */
  size: number;
  encrypted: boolean;
  /** Wanted by the group's next snapshot, fetched ahead with this one's chunks (see moveIndexChunks). */
  ahead: boolean;
}

const PROOF_ROUND = 256;

/**
 * Moves the chunks of one snapshot's archives from the source to the target, each at most once per job:
 *   1. chunks the target may use as they are (the group's last snapshot, this job's earlier transfers) are reused;
 *   2. chunks the target holds otherwise are reused only if the source proves it holds them too (HMAC over a fresh
 *      nonce), so naming a digest never unlocks someone else's data;
 *   3. the rest is fetched in batches, several requests in flight, each chunk claimed job-wide so a chunk wanted by
 *      two groups at once is fetched once; every chunk is verified before it is stored.
 * Where the target keeps what this job stores usable for the group's later snapshots (`lacks` is defined: a local
 * datastore), a snapshot's last archive also takes along the chunks the next snapshot needs and the target lacks, in
 * batches of their own behind this archive's: the requests keep flowing across the snapshot boundary instead of
 * draining (a round trip or more per snapshot on a long link). Those chunks are credited to the snapshot that uses
 * them; a failure among them is left for that snapshot to meet (and report) in its own turn.
 */
export class ChunkMover {
  private readonly reader: SourceGroupReader;
  private readonly claims: ChunkClaims;
  private readonly progress: ProgressCounters;
  private readonly slot: number;
  private readonly options: TransferOptions;
  private readonly signal: AbortSignal;
  /** Digests settled for the current snapshot (its writer may reference them). */
  private settled = new Set<Digest>();
  private writer: TargetSnapshotWriter | undefined;
  /** Chunks fetched ahead for a later snapshot, with their blob sizes, until that snapshot counts them. */
  private readonly fetchedAhead = new Map<Digest, number>();

  constructor(fields: {
    reader: SourceGroupReader;
    claims: ChunkClaims;
    progress: ProgressCounters;
    slot: number;
    options: TransferOptions;
    signal: AbortSignal;
  }) {
    this.reader = fields.reader;
    this.claims = fields.claims;
    this.progress = fields.progress;
    this.slot = fields.slot;
    this.options = fields.options;
    this.signal = fields.signal;
  }

  /** Starts a snapshot: chunks are settled anew for each snapshot writer. */
  startSnapshot(writer: TargetSnapshotWriter): void {
    this.writer = writer;
    this.settled = new Set();
  }

  /**
   * Moves the chunks of one archive of the current snapshot. `ahead` (the next snapshot's indexes, for its last
   * archive) resolves to what may be fetched along with them; it is awaited only once this archive's requests are
   * under way.
   */
  async moveIndexChunks(
    index: ArchiveIndex,
    encrypted: boolean,
    ahead?: Promise<readonly AheadIndex[]>,
  ): Promise<MoveStats> {
    const writer = this.writer;
    if (!writer) throw new FerryError('FERRY_ERR_INTERNAL', 'chunk mover has no snapshot');
    const stats: MoveStats = { chunks: index.count, fetched: 0, fetchedBytes: 0, reused: 0, proven: 0 };
    const seen = new Set<Digest>();
    const needed = this.unsettled(index, encrypted, seen, false);
    let rest = await this.reuse(writer, needed, stats);
    if (writer.proveUpFront) rest = await this.prove(writer, rest, stats);
    else {
      // Chunks another group of this job moved: proving costs far less than moving them again. The split is made
      // once: the filter keeps filling while the proofs are under way.
      const moved = rest.filter((n) => this.claims.maybeMoved(n.digest));
      if (moved.length > 0) {
        const movedSet = new Set(moved);
        rest = [...rest.filter((n) => !movedSet.has(n)), ...(await this.prove(writer, moved, stats))];
      }
    }
    const later = ahead && writer.lacks ? this.aheadOf(writer, ahead, seen) : undefined;
    await this.fetchAll(writer, rest, stats, later);
    return stats;
  }

  /** The index's chunks not settled for this snapshot nor already in `seen` (which gains them). */
  private unsettled(index: ArchiveIndex, encrypted: boolean, seen: Set<Digest>, ahead: boolean): Needed[] {
    const out: Needed[] = [];
    for (let i = 0; i < index.count; i++) {
      const digest = index.digestAt(i);
      if (this.settled.has(digest) || seen.has(digest)) continue;
      seen.add(digest);
      out.push({ digest, size: index.chunkEnd(i) - index.chunkStart(i), encrypted, ahead });
    }
    return out;
  }

  /** The next snapshot's chunks that this snapshot does not move and the target lacks (none if that fails). */
  private async aheadOf(
    writer: TargetSnapshotWriter,
    ahead: Promise<readonly AheadIndex[]>,
    seen: Set<Digest>,
  ): Promise<Needed[]> {
    try {
      const wanted = (await ahead).flatMap((a) => this.unsettled(a.index, a.encrypted, seen, true));
      const lacking = new Set(writer.lacks?.(wanted.map((n) => n.digest)));
      return wanted.filter((n) => lacking.has(n.digest));
    } catch {
      return [];
    }
  }

  private async reuse(writer: TargetSnapshotWriter, needed: Needed[], stats: MoveStats): Promise<Needed[]> {
    if (needed.length === 0) return needed;
    const usable = await writer.usable(needed.map((n) => n.digest));
    const rest: Needed[] = [];
    for (const n of needed) {
      if (usable.has(n.digest)) {
        this.settled.add(n.digest);
        const early = this.fetchedAhead.get(n.digest);
        if (early !== undefined) {
          // Fetched ahead for this snapshot: it counts here as fetched (the progress counters have it already).
          this.fetchedAhead.delete(n.digest);
          stats.fetched++;
          stats.fetchedBytes += early;
          continue;
        }
        stats.reused++;
        this.progress.add(this.slot, 'chunksReused', 1);
        this.progress.add(this.slot, 'bytesReused', n.size);
      } else rest.push(n);
    }
    return rest;
  }

  /** Proofs go in rounds of PROOF_ROUND digests (one nonce each), the server's limit per request. */
  private async prove(writer: TargetSnapshotWriter, needed: Needed[], stats: MoveStats): Promise<Needed[]> {
    const rest: Needed[] = [];
    for (let i = 0; i < needed.length; i += PROOF_ROUND) {
      rest.push(...(await this.proveRound(writer, needed.slice(i, i + PROOF_ROUND), stats)));
    }
    return rest;
  }

  private async proveRound(
    writer: TargetSnapshotWriter,
    needed: Needed[],
    stats: MoveStats,
  ): Promise<Needed[]> {
    if (needed.length === 0) return needed;
    const challenge = await writer.challenge(needed.map((n) => n.digest));
    if (challenge === undefined || challenge.digests.length === 0) return needed;
    const proofs = await this.reader.proveChunks(challenge.nonce, challenge.digests);
    const accepted = await writer.acceptProofs(challenge.nonce, challenge.digests, proofs);
    const rest: Needed[] = [];
    for (const n of needed) {
      if (accepted.has(n.digest)) {
        this.settled.add(n.digest);
        stats.reused++;
        stats.proven++;
        this.progress.add(this.slot, 'chunksProven', 1);
        this.progress.add(this.slot, 'chunksReused', 1);
        this.progress.add(this.slot, 'bytesReused', n.size);
      } else rest.push(n);
    }
    return rest;
  }

  private async fetchAll(
    writer: TargetSnapshotWriter,
    needed: Needed[],
    stats: MoveStats,
    ahead: Promise<Needed[]> | undefined,
  ): Promise<void> {
    const window = new TaskWindow(this.options.inFlight);
    let failure: unknown;
    const launch = async (batch: Needed[]) => {
      await window.room();
      if (failure !== undefined) throw failure;
      // A batch fetched ahead fails quietly: the snapshot that needs its chunks fetches (and reports) them itself.
      window.track(
        this.fetchBatch(writer, batch, stats).catch((err: unknown) => {
          if (!batch[0]?.ahead) failure ??= err;
        }),
      );
    };
    /** Claims and batches `items`, launching each full batch; returns those another group holds or has moved. */
    const send = async (items: readonly Needed[], rechecked: Set<Digest>): Promise<Needed[]> => {
      const waiting: Needed[] = [];
      let batch: Needed[] = [];
      let bytes = 0;
      for (const n of items) {
        if (this.signal.aborted) throw new FerryError('FERRY_ERR_ABORTED', 'interrupted');
        if (failure !== undefined) break;
        if (!this.claims.tryClaim(n.digest)) {
          waiting.push(n);
          continue;
        }
        // Moved by another group since this archive was planned: reuse or prove it rather than move it again
        // (once: a filter false positive, or a proof that fails, then fetches it after all).
        if (this.claims.maybeMoved(n.digest) && !rechecked.has(n.digest)) {
          this.claims.release(n.digest);
          rechecked.add(n.digest);
          waiting.push(n);
          continue;
        }
        batch.push(n);
        bytes += n.size;
        if (batch.length >= this.options.batchChunks || bytes >= this.options.batchBytes) {
          await launch(batch);
          batch = [];
          bytes = 0;
        }
      }
      if (batch.length > 0 && failure === undefined) await launch(batch);
      else for (const n of batch) this.claims.release(n.digest);
      return waiting;
    };
    let pending = needed;
    let later = ahead;
    const rechecked = new Set<Digest>();
    while (pending.length > 0 || later !== undefined) {
      const waiting = await send(pending, rechecked);
      // The next snapshot's chunks go out behind this archive's; those another group holds or has moved are left
      // for that snapshot to settle.
      if (later !== undefined && failure === undefined) await send(await later, new Set());
      later = undefined;
      await window.drain();
      if (failure !== undefined) throw failure;
      // Chunks another group was fetching: wait for it, then they are usable (or failed there: fetch them here).
      for (const n of waiting) await this.claims.waitFree(n.digest);
      pending = await this.prove(writer, await this.reuse(writer, waiting, stats), stats);
    }
  }

  private async fetchBatch(writer: TargetSnapshotWriter, batch: Needed[], stats: MoveStats): Promise<void> {
    const items = new Map(batch.map((n) => [n.digest, n]));
    const unreleased = new Set(items.keys());
    // Each chunk with the source's way to take its memory back once the chunk is stored.
    let store: (ChunkToStore & { recycle: () => void })[] = [];
    let storeBytes = 0;
    const stored = (digest: Digest) => {
      this.settled.add(digest);
      this.claims.markMoved(digest);
      this.claims.release(digest);
      unreleased.delete(digest);
    };
    const flush = async () => {
      const chunks = store;
      store = [];
      storeBytes = 0;
      if (chunks.length === 0) return;
      await writer.storeChunks(chunks, this.signal);
      for (const c of chunks) {
        // Stored: nothing refers to the blob any more, so the source reuses its memory (the blob of the chunk that
        // called this flush is still being handed over, and goes back when that ends).
        c.recycle();
        stored(c.digest);
      }
    };
    // A target that stores chunks one by one (a local datastore) gets each as it arrives, and its memory goes back to
    // the source as soon as its bytes are written: the rest of its store (fsyncs, rename, index entry) finishes beside
    // the next chunks, at most FINISHING_PER_BATCH at once. A failure there fails the batch like any other.
    const finishing = new TaskWindow(FINISHING_PER_BATCH);
    let late: { err: unknown } | undefined;
    const storeNow = async (chunk: ChunkToStore): Promise<void> => {
      if (late !== undefined) throw late.err;
      await finishing.room();
      let written: () => void = () => undefined;
      const bytesGone = new Promise<void>((resolve) => {
        written = resolve;
      });
      const storing = writer
        .storeChunks([{ ...chunk, written }], this.signal)
        .then(() => stored(chunk.digest));
      finishing.track(storing);
      storing.catch((err: unknown) => {
        late ??= { err };
      });
      await Promise.race([bytesGone, storing]);
    };
    try {
      await this.reader.fetchChunks(
        batch.map((n) => n.digest),
        async (digest, blob, recycle) => {
          const item = items.get(digest);
          if (item === undefined)
            throw new FerryError('FERRY_ERR_PROTOCOL', `chunk ${shortDigest(digest)} was not asked for`);
          items.delete(digest);
          const plainSize = await inContext(`chunk ${shortDigest(digest)}`, async () =>
            this.check(digest, blob, item.size, item.encrypted),
          );
          if (item.ahead) this.fetchedAhead.set(digest, blob.length);
          else {
            stats.fetched++;
            stats.fetchedBytes += blob.length;
          }
          this.progress.add(this.slot, 'chunksFetched', 1);
          this.progress.add(this.slot, 'bytesFetched', blob.length);
          if (writer.storeBatchBytes === 0) {
            await storeNow({ digest, blob, plainSize });
            return true; // written: the reader may reuse the blob's memory
          }
          store.push({ digest, blob, plainSize, recycle });
          storeBytes += blob.length;
          if (storeBytes < writer.storeBatchBytes) return false;
          await flush();
          return true; // stored: the reader may reuse the blob's memory
        },
        batch.map((n) => n.size),
        this.signal,
      );
      await flush();
      await finishing.drain();
      if (late !== undefined) throw late.err;
      const missing = [...items.keys()];
      if (missing.length > 0) {
        throw new FerryError(
          'FERRY_ERR_PROTOCOL',
          `chunk ${shortDigest(missing[0] as Digest)}: the source did not send it`,
        );
      }
    } finally {
      await finishing.drain(); // a store still finishing settles its own claim first
      for (const d of unreleased) this.claims.release(d);
    }
  }

  /** Verifies a received chunk; returns its plain size (undefined when encrypted). */
  private check(digest: Digest, blob: Buffer, size: number, encrypted: boolean): number | undefined {
    if (this.options.verify === 'full') {
      return verifyChunk(blob, digest, { expectedSize: encrypted ? undefined : size, encrypted }).plainSize;
    }
    const kind = checkBlob(blob);
    if (isEncryptedKind(kind) !== encrypted) {
      throw new FerryError(
        'FERRY_ERR_CRYPT_MODE_MISMATCH',
        `chunk is ${encrypted ? 'plain' : 'encrypted'} but its index says otherwise`,
      );
    }
    return encrypted ? undefined : size;
  }
}
