import { randomBytes, timingSafeEqual } from 'node:crypto';
import { FerryError, inContext, inContextSync } from '../errors/index.js';
import {
  blobKind,
  type CryptMode,
  isEncryptedKind,
  MAX_CHUNK_SIZE,
  manifestSnapshotMatches,
  manifestVerifyState,
  parseArchiveIndex,
  parseManifestBlob,
} from '../format/index.js';
import { BufferRecycler, TaskWindow } from '../io/index.js';
import type { Logger } from '../log/index.js';
import {
  type ArchiveName,
  type AuthId,
  archiveKind,
  type Digest,
  formatBackupTime,
  formatSnapshot,
  MANIFEST_NAME,
  type Namespace,
  type SnapshotRef,
  type StoreName,
  shortDigest,
} from '../model/index.js';
import { LIMITS, readChunkFrames } from '../protocol/index.js';
import { type ChunkPool, type Datastore, SnapshotWriter, UNKNOWN_SIZE } from '../store/index.js';
import type { ServerSession, SessionScope } from './session-table.js';

/**
 * Chunks of one upload request verified and stored at once: one in the chunk threads while the next frame arrives.
 * Memory stays at a few chunks per request however many requests are in flight (each holds at most this many).
 */
const UPLOAD_AHEAD = 2;
/**
 * Memory for uploaded chunk blobs, shared by all writer sessions: a blob is read into it, lent whole to a chunk
 * thread, and comes back with the thread's answer, instead of a fresh 4 MiB allocation per chunk (page faults, and
 * full collections to free it). A push at 0 ms, 4 threads: 78.4 vs 72.9 MiB/s, server CPU 5.0 vs 5.3 s. (Node's HTTP
 * parser still copies every body piece into new memory before this: most of the server's remaining page faults.)
 */
const uploadBuffers = new BufferRecycler({ keep: 16 });

export interface UploadResult {
  chunks: number;
  newChunks: number;
  bytes: number;
}

/**
 * A writer session: one new snapshot of one group (PBS's backup protocol). Steps:
 *   1. open: SnapshotWriter.begin takes the group lock (fails fast: FERRY_ERR_LOCKED), creates the group with the
 *      session's owner or checks the owner strictly, and refuses a time not after the last snapshot;
 *   2. the client may download files of the previous snapshot; an index registers its chunks as referenceable;
 *   3. uploaded chunks are verified here (CRC, magic, decode, SHA-256 against the digest; the client's digest is
 *      never trusted), stored, and become referenceable;
 *   4. an uploaded index may reference only referenceable chunks, present in the store with the crypt mode and
 *      length the index implies;
 *   5. finish publishes through SnapshotWriter.commit (every chunk checked, manifest renamed last);
 *   6. any other end (DELETE, idle timeout, server stop) aborts: nothing becomes visible, the lock is released.
 */
export class WriterSession implements ServerSession {
  readonly kind = 'writer' as const;
  readonly id: string;
  readonly authId: AuthId;
  readonly store: StoreName;
  readonly ns: Namespace;
  readonly snapshot: SnapshotRef;
  /** The group's last finished snapshot, unless its verification failed. */
  readonly previous: SnapshotRef | undefined;
  private readonly ds: Datastore;
  private readonly writer: SnapshotWriter;
  private readonly log: Logger;
  /** The server's current chunk pool: asked for each upload, as the server replaces it when a datastore is let go. */
  private readonly pool: () => ChunkPool;
  private readonly referenceable = new Set<Digest>();
  private nonce: Buffer | undefined;
  private readonly cryptModes = new Map<ArchiveName, CryptMode>();
  private active = 0;
  private state: 'open' | 'finishing' | 'closed' = 'open';

  private constructor(
    fields: SessionScope & {
      snapshot: SnapshotRef;
      previous: SnapshotRef | undefined;
      writer: SnapshotWriter;
      log: Logger;
      pool: () => ChunkPool;
    },
  ) {
    this.id = fields.id;
    this.authId = fields.authId;
    this.store = fields.store;
    this.ds = fields.ds;
    this.ns = fields.ns;
    this.snapshot = fields.snapshot;
    this.previous = fields.previous;
    this.writer = fields.writer;
    this.log = fields.log;
    this.pool = fields.pool;
  }

  static async open(
    fields: SessionScope & { owner: AuthId; snapshot: SnapshotRef; log: Logger; pool: () => ChunkPool },
  ): Promise<WriterSession> {
    const { ds, ns, snapshot } = fields;
    return inContext(`snapshot ${formatSnapshot(snapshot)}`, async () => {
      const writer = await SnapshotWriter.begin(ds, ns, snapshot, { owner: fields.owner });
      try {
        let previous = await ds.lastFinishedSnapshot(ns, snapshot.group);
        if (previous !== undefined) {
          const manifest = await ds.readManifest(ns, previous).catch(() => undefined);
          if (manifest === undefined || manifestVerifyState(manifest) === 'failed') previous = undefined;
        }
        return new WriterSession({ ...fields, previous, writer });
      } catch (err) {
        await writer.abort();
        throw err;
      }
    });
  }

  private enter(): void {
    if (this.state !== 'open') {
      throw new FerryError(
        'FERRY_ERR_NOT_FOUND',
        `writer session ${this.id} is ${this.state === 'closed' ? 'closed' : 'finishing'}`,
      );
    }
    this.active++;
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    this.enter();
    try {
      return await inContext(`snapshot ${formatSnapshot(this.snapshot)}`, fn);
    } finally {
      this.active--;
    }
  }

  /** A file of the previous snapshot; an index registers its chunks as referenceable. */
  async downloadPrevious(name: ArchiveName): Promise<Buffer> {
    return this.run(async () => {
      const previous = this.previous;
      if (previous === undefined)
        throw new FerryError('FERRY_ERR_NOT_FOUND', 'the group has no previous snapshot');
      const lock = await this.ds.lockSnapshot(this.ns, previous, 'shared');
      try {
        const manifest = await this.ds.readManifestBytes(this.ns, previous);
        const bytes = name === MANIFEST_NAME ? manifest : await this.ds.readArchive(this.ns, previous, name);
        const kind = archiveKind(name);
        if (kind !== 'blob') {
          const index = inContextSync(`archive ${name}`, () => parseArchiveIndex(kind, bytes));
          for (let i = 0; i < index.count; i++) this.referenceable.add(index.digestAt(i));
        }
        return bytes;
      } finally {
        await lock.release();
      }
    });
  }

  /**
   * Proof of possession, the writer's way round: the client proves it holds chunks this store already has (another
   * group's, or uploaded by another session of the same sync job), and they become referenceable without an upload.
   * One nonce is outstanding per session; a new challenge replaces it.
   */
  challenge(): Buffer {
    this.nonce = randomBytes(32);
    return this.nonce;
  }

  /** Checks the client's proofs against this store's copies; accepted digests become referenceable. */
  async acceptProofs(
    nonce: Buffer,
    digests: readonly Digest[],
    proofs: readonly (Buffer | undefined)[],
  ): Promise<boolean[]> {
    return this.run(async () => {
      const current = this.nonce;
      if (current === undefined || current.length !== nonce.length || !timingSafeEqual(current, nonce)) {
        throw new FerryError(
          'FERRY_ERR_INVALID_VALUE',
          'the proof nonce is not the one this session handed out',
        );
      }
      this.nonce = undefined;
      // This store's own proofs, made on the chunk threads (only for digests the client answered).
      const answered = digests.filter((_, i) => proofs[i]?.length === 32);
      const made = await this.pool().prove(this.ds.path, nonce, answered);
      const mine = new Map(answered.map((d, i) => [d, made[i]]));
      const accepted: boolean[] = [];
      for (let i = 0; i < digests.length; i++) {
        const d = digests[i] as Digest;
        const proof = proofs[i];
        const own = mine.get(d);
        const ok =
          proof !== undefined &&
          own !== undefined &&
          proof.length === own.length &&
          timingSafeEqual(own, proof) &&
          (await this.ds.chunks.touch(d)) !== undefined;
        if (ok) this.referenceable.add(d);
        accepted.push(ok);
      }
      return accepted;
    });
  }

  /** For each digest: may this session reference it, and does the store have it? Others are reported missing. */
  known(digests: readonly Digest[]): boolean[] {
    return digests.map((d) => this.referenceable.has(d) && this.ds.chunks.has(d));
  }

  /**
   * Reads chunk frames from the request body; each chunk is verified in full and stored by the server's chunk
   * threads (off the event loop, UPLOAD_AHEAD of a request's chunks at once, while the next frame is read). A chunk
   * that fails verification fails the request (its bytes are never stored); a body that ends inside a frame is
   * FERRY_ERR_TRUNCATED. Chunks verified before the failure are whole and stay stored.
   */
  async uploadChunks(body: AsyncIterable<Uint8Array>): Promise<UploadResult> {
    return this.run(async () => {
      const result: UploadResult = { chunks: 0, newChunks: 0, bytes: 0 };
      const frames = readChunkFrames(
        body,
        { maxFrames: LIMITS.maxBatchDigests, maxBlob: LIMITS.maxChunkBlob, maxTotal: LIMITS.maxBatchBytes },
        uploadBuffers,
      );
      const window = new TaskWindow(UPLOAD_AHEAD);
      let failure: { err: unknown } | undefined;
      try {
        for await (const frame of frames) {
          const where = `chunk ${shortDigest(frame.digest)}`;
          if (frame.status !== 'ok') {
            failure ??= {
              err: new FerryError(
                'FERRY_ERR_BAD_FORMAT',
                `an upload frame must carry a chunk, not ${frame.status}`,
              ).withFrame(where),
            };
            break;
          }
          const { digest, blob } = frame;
          const bytes = blob.length;
          const lend = uploadBuffers.owns(blob);
          window.track(
            inContext(where, () =>
              this.pool().insert(this.ds.path, digest, blob, MAX_CHUNK_SIZE, { lend }),
            ).then(
              (r) => {
                if (r.data !== undefined) uploadBuffers.give(r.data);
                this.referenceable.add(digest);
                result.chunks++;
                result.bytes += bytes;
                if (r.isNew) result.newChunks++;
              },
              (err: unknown) => {
                failure ??= { err };
              },
            ),
          );
          await window.room();
          if (failure !== undefined) break;
        }
      } finally {
        // Also when the body fails (cut off, malformed): the chunks already handed over finish first, so the answer
        // describes a settled store.
        await window.drain();
      }
      if (failure !== undefined) throw failure.err;
      return result;
    });
  }

  /** Stores an archive: an index (whose chunks must be referenceable and stored) or a blob. */
  async uploadFile(name: ArchiveName, bytes: Buffer, cryptMode: CryptMode): Promise<void> {
    return this.run(() =>
      inContext(`archive ${name}`, async () => {
        if (name === MANIFEST_NAME) {
          throw new FerryError('FERRY_ERR_INVALID_VALUE', 'the manifest is sent with finish, not as a file');
        }
        const kind = archiveKind(name);
        if (kind === 'blob') {
          const encrypted = isEncryptedKind(blobKind(bytes));
          if (encrypted !== (cryptMode === 'encrypt')) {
            throw new FerryError(
              'FERRY_ERR_CRYPT_MODE_MISMATCH',
              `blob is ${encrypted ? '' : 'not '}encrypted but crypt-mode is ${cryptMode}`,
            );
          }
          await this.writer.writeBlob(name, bytes, cryptMode);
        } else {
          const index = parseArchiveIndex(kind, bytes);
          const digests: Digest[] = [];
          for (let i = 0; i < index.count; i++) {
            const digest = index.digestAt(i);
            this.checkReference(digest, index.chunkEnd(i) - index.chunkStart(i), cryptMode);
            digests.push(digest);
          }
          // Mark them used now: GC spares chunks used after this writer registered.
          await this.ds.chunks.index.touchMany(digests, this.ds.clock.now());
          await this.writer.writeIndex(name, bytes, cryptMode);
        }
        this.cryptModes.set(name, cryptMode);
      }),
    );
  }

  private checkReference(digest: Digest, plainSize: number, cryptMode: CryptMode): void {
    const frame = `chunk ${shortDigest(digest)}`;
    if (!this.referenceable.has(digest)) {
      throw new FerryError(
        'FERRY_ERR_CHUNK_NOT_ALLOWED',
        'not uploaded in this session nor in the previous snapshot',
        {
          context: [frame],
          fields: { digest },
        },
      );
    }
    const entry = this.ds.chunks.get(digest);
    if (entry === undefined) {
      throw new FerryError('FERRY_ERR_NOT_FOUND', 'not in the chunk store', {
        context: [frame],
        fields: { digest },
      });
    }
    const encrypted = entry.plainSize === UNKNOWN_SIZE;
    if (encrypted !== (cryptMode === 'encrypt')) {
      throw new FerryError(
        'FERRY_ERR_CRYPT_MODE_MISMATCH',
        `chunk is ${encrypted ? '' : 'not '}encrypted but crypt-mode is ${cryptMode}`,
        {
          context: [frame],
          fields: { digest },
        },
      );
    }
    if (!encrypted && entry.plainSize !== plainSize) {
      throw new FerryError(
        'FERRY_ERR_SIZE_MISMATCH',
        `chunk is ${entry.plainSize} bytes, the index says ${plainSize}`,
        {
          context: [frame],
          fields: { digest },
        },
      );
    }
  }

  /**
   * Publishes the snapshot with the client's manifest, which must describe this snapshot and list exactly what was
   * uploaded (name, size, csum, crypt mode). Refused while uploads of this session are in flight.
   */
  async finish(manifestBlob: Buffer): Promise<void> {
    if (this.state === 'open' && this.active > 0) {
      throw new FerryError(
        'FERRY_ERR_LOCKED',
        `writer session ${this.id} has ${this.active} upload(s) in flight`,
      );
    }
    this.enter();
    this.state = 'finishing';
    try {
      await inContext(`snapshot ${formatSnapshot(this.snapshot)}`, async () => {
        const manifest = inContextSync(`file ${MANIFEST_NAME}`, () => parseManifestBlob(manifestBlob));
        if (!manifestSnapshotMatches(manifest, this.snapshot)) {
          throw new FerryError(
            'FERRY_ERR_INVALID_VALUE',
            `manifest describes ${manifest.backupType}/${manifest.backupId}/${formatBackupTime(manifest.backupTime)}`,
          );
        }
        for (const f of manifest.files) {
          const mode = this.cryptModes.get(f.filename);
          if (mode === undefined)
            throw new FerryError('FERRY_ERR_NOT_FOUND', `archive ${f.filename} was not uploaded`);
          if (mode !== f.cryptMode) {
            throw new FerryError(
              'FERRY_ERR_CRYPT_MODE_MISMATCH',
              `archive ${f.filename} was uploaded as ${mode}, the manifest says ${f.cryptMode}`,
            );
          }
        }
        await this.writer.commit({ manifest });
      });
      this.state = 'closed';
    } catch (err) {
      this.state = 'open';
      throw err;
    } finally {
      this.active--;
    }
  }

  get finished(): boolean {
    return this.state === 'closed';
  }

  async close(reason: string): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.log.info(
      { session: this.id, snapshot: formatSnapshot(this.snapshot), reason },
      'writer session aborted',
    );
    await this.writer.abort().catch((err: unknown) => {
      this.log.error({ err, session: this.id }, 'aborting a snapshot failed');
    });
  }
}
