import type { CryptMode, VerifyState } from '../format/index.js';
import type { ArchiveName, AuthId, Digest, GroupRef, Namespace } from '../model/index.js';
import type { ReaderPrefetch } from '../remote/index.js';

/**
 * The contract between the sync chain and the two ends of a sync. Pull and push run the same chain with the roles
 * swapped: a pull reads a remote (or another local datastore) through a SyncSource and writes a local datastore
 * through a SyncTarget; a push reads the local datastore and writes a remote. Local and remote implementations of
 * each side pass the same contract tests.
 */
export interface SnapshotListing {
  time: number;
  /** Has a manifest; unfinished snapshots are never synced. */
  finished: boolean;
  protected: boolean;
  verifyState: VerifyState | undefined;
  /**
   * SHA-256 (hex) of the manifest without its unprotected part: equal values mean the same archives, so a re-sync
   * has nothing to move (and local verify state, notes and protection stay as they are).
   */
  protectedCsum: string | undefined;
  /** Every archive (but the manifest and client log) is encrypted: for `encrypted-only`. */
  encrypted: boolean;
  /**
   * The archives the source lists for it (not the manifest or client log): a hint that lets their downloads start
   * with the manifest's instead of a round trip later. The manifest decides what is synced.
   */
  archives: readonly ArchiveName[];
}

export interface GroupListing {
  group: GroupRef;
  owner: AuthId | undefined;
}

export interface SyncEndpoint {
  /** How logs name this end: `datastore store1`, `remote r1 datastore store1`. */
  readonly label: string;
  /** `anchor` and the namespaces below it (at most `maxDepth` levels; undefined = all), parents first. */
  listNamespaces(anchor: Namespace, maxDepth: number | undefined): Promise<Namespace[]>;
  listGroups(ns: Namespace): Promise<GroupListing[]>;
  /** Snapshots of a group in time order (empty when the group does not exist). */
  listSnapshots(ns: Namespace, group: GroupRef): Promise<SnapshotListing[]>;
  close(): Promise<void>;
}

export interface SyncSource extends SyncEndpoint {
  /**
   * `prefetch`: files of one snapshot the reader will read first; a remote source has them sent with the session
   * (one round trip less), a local one ignores it.
   */
  openGroup(ns: Namespace, group: GroupRef, prefetch?: ReaderPrefetch): Promise<SourceGroupReader>;
  /**
   * Every group's snapshots in a namespace in one answer, keyed by `type/id`; defined where one request for all costs
   * far less than one per group (a remote server). The coordinator hands each group its part.
   */
  listAllSnapshots?(ns: Namespace): Promise<Map<string, SnapshotListing[]>>;
}

/**
 * Takes one chunk blob from a source. Resolves true when it no longer refers to the blob (the source may reuse its
 * memory at once); otherwise it keeps the blob and calls `recycle` once it no longer refers to it (a target that
 * stores chunks in batches: the memory is then reused for a later chunk instead of a fresh allocation).
 */
export type ChunkConsumer = (digest: Digest, blob: Buffer, recycle: () => void) => Promise<boolean>;

/** Read access to one group of the source; indexes read through it unlock their chunks (and only those). */
export interface SourceGroupReader {
  /** The manifest blob's bytes, or undefined when the snapshot vanished. */
  readManifest(time: number): Promise<Buffer | undefined>;
  readArchive(time: number, name: ArchiveName): Promise<Buffer>;
  /**
   * Delivers the chunk blobs of `digests` (in any order) to `onChunk`; resolves after the last one was handled.
   * `onChunk` resolves true when it no longer refers to the blob, or calls `recycle` later (see ChunkConsumer).
   * `sizes` (plain sizes from the index, same order) help a remote source fill its requests. `signal` ends it at
   * once, reads, requests and rate-limit waits in flight included.
   */
  fetchChunks(
    digests: readonly Digest[],
    onChunk: ChunkConsumer,
    sizes?: readonly number[],
    signal?: AbortSignal,
  ): Promise<void>;
  /** HMAC-SHA256(nonce, content) per digest — content = plain bytes, or the blob for encrypted chunks — or undefined. */
  proveChunks(nonce: Buffer, digests: readonly Digest[]): Promise<(Buffer | undefined)[]>;
  close(): Promise<void>;
}

export interface SyncTarget extends SyncEndpoint {
  ensureNamespace(ns: Namespace): Promise<void>;
  removeNamespace(ns: Namespace): Promise<{ protectedKept: number }>;
  removeGroup(ns: Namespace, group: GroupRef): Promise<{ removedSnapshots: number; protectedKept: number }>;
  /** Takes the group for writing: group lock (fails fast), owner set for a new group or checked strictly. */
  openGroup(ns: Namespace, group: GroupRef, owner: AuthId, jobToken: number): Promise<TargetGroupWriter>;
}

export interface TargetGroupWriter {
  listSnapshots(): Promise<SnapshotListing[]>;
  removeSnapshot(time: number): Promise<void>;
  beginSnapshot(time: number, mode: 'pull' | 'push'): Promise<TargetSnapshotWriter>;
  close(): Promise<void>;
}

export interface ChunkToStore {
  digest: Digest;
  blob: Buffer;
  /** Plain size (undefined for encrypted chunks). */
  plainSize: number | undefined;
  /**
   * Called once `blob` is no longer read, which may be before the chunk is stored (a local target: its bytes are
   * written, its fsyncs, rename and index entry still to come). A target may also never call it; storeChunks
   * resolving says the chunk is stored either way.
   */
  written?: () => void;
}

export interface TargetSnapshotWriter {
  /**
   * Whether to ask the source for proofs before fetching (true where the target knows which chunks it holds, so the
   * source proves only those); false: proofs only for chunks another group of the job has just moved.
   */
  readonly proveUpFront: boolean;
  /**
   * Chunks to gather before one storeChunks call: 0 stores each as it arrives (a local store: nothing waits in
   * memory); a remote store gathers an upload batch.
   */
  readonly storeBatchBytes: number;
  /**
   * Which of `digests` the target has and this snapshot may use without moving them: chunks of the group's newest
   * snapshot, chunks this job already brought from the source, chunks proven in this job.
   */
  usable(digests: readonly Digest[]): Promise<Set<Digest>>;
  /** A nonce and the digests (of `digests`) the source should prove it holds, or undefined when none can be proven. */
  challenge(digests: readonly Digest[]): Promise<{ nonce: Buffer; digests: Digest[] } | undefined>;
  /** Checks the source's proofs; returns the digests now usable. */
  acceptProofs(
    nonce: Buffer,
    digests: readonly Digest[],
    proofs: readonly (Buffer | undefined)[],
  ): Promise<Set<Digest>>;
  /**
   * Of `digests`, those the target does not hold at all. Defined only where the chunks this job stores stay usable for
   * the group's later snapshots (`usable` accepts them: a local datastore), which lets the chain fetch the next
   * snapshot's new chunks along with this one's.
   */
  lacks?(digests: readonly Digest[]): Digest[];
  /**
   * Stores chunks the chain has verified (pull) or that the receiving server verifies (push); `signal` ends an upload
   * (and its rate-limit waits) at once.
   */
  storeChunks(chunks: readonly ChunkToStore[], signal?: AbortSignal): Promise<void>;
  writeArchive(name: ArchiveName, bytes: Buffer, cryptMode: CryptMode): Promise<void>;
  /** Publishes the snapshot with the source's manifest, byte for byte. */
  commit(manifestBlob: Buffer): Promise<void>;
  abort(): Promise<void>;
}
