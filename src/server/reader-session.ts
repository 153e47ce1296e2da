import { addFrame, FerryError, inContext, inContextSync, isFerryError } from '../errors/index.js';
import { parseArchiveIndex } from '../format/index.js';
import { BufferRecycler } from '../io/index.js';
import {
  type ArchiveName,
  type AuthId,
  archiveKind,
  checkBackupTime,
  type Digest,
  formatSnapshot,
  type GroupRef,
  MANIFEST_NAME,
  type Namespace,
  type SnapshotRef,
  type StoreName,
  shortDigest,
} from '../model/index.js';
import { encodeFrameHeader, type FrameStatus, LIMITS } from '../protocol/index.js';
import type { ChunkPool, Datastore } from '../store/index.js';
import type { ServerSession, SessionScope } from './session-table.js';

/** The most digests one session registers (about 4 TiB of 4 MiB chunks, some 500 MB of memory). */
const MAX_SESSION_DIGESTS = 4_000_000;
/** Chunk files read ahead of the one being sent. */
const READ_AHEAD = 4;
/**
 * Memory for the chunk files this process sends, shared by all batch downloads: the sender gives a blob back once
 * the socket has taken its bytes (sendPieces). At most 16 free buffers (~65 MiB) are kept.
 */
export const sendBuffers = new BufferRecycler({ keep: 16 });

type ReaderFields = SessionScope & { group: GroupRef; pool: () => ChunkPool };

/**
 * A reader session over one group (PBS's reader protocol, per group instead of per snapshot). Downloading an index
 * registers its digests; chunks and proofs are served only for registered digests, so a digest alone, without an
 * index this token could read, never unlocks data.
 */
export class ReaderSession implements ServerSession {
  readonly kind = 'reader' as const;
  readonly id: string;
  readonly authId: AuthId;
  readonly store: StoreName;
  readonly ns: Namespace;
  readonly group: GroupRef;
  private readonly ds: Datastore;
  private readonly allowed = new Set<Digest>();
  /** The server's current chunk pool (proofs are made on its threads), asked for at each use as for writers. */
  private readonly pool: () => ChunkPool;

  private constructor(fields: ReaderFields) {
    this.id = fields.id;
    this.authId = fields.authId;
    this.store = fields.store;
    this.ds = fields.ds;
    this.ns = fields.ns;
    this.group = fields.group;
    this.pool = fields.pool;
  }

  /** Opens a session; the group must exist. */
  static async open(fields: ReaderFields): Promise<ReaderSession> {
    await fields.ds.requireGroup(fields.ns, fields.group);
    return new ReaderSession(fields);
  }

  /**
   * A file of a finished snapshot of the group, read under a shared snapshot lock. An index registers its digests.
   */
  async download(time: number, name: ArchiveName): Promise<Buffer> {
    const snapshot: SnapshotRef = { group: this.group, time: checkBackupTime(time) };
    return inContext(`snapshot ${formatSnapshot(snapshot)}`, async () => {
      const lock = await this.ds.lockSnapshot(this.ns, snapshot, 'shared');
      try {
        const bytes = await this.ds.readManifestBytes(this.ns, snapshot); // also: finished?
        if (name === MANIFEST_NAME) return bytes;
        const file = await this.ds.readArchive(this.ns, snapshot, name);
        const kind = archiveKind(name);
        if (kind !== 'blob') {
          const index = inContextSync(`archive ${name}`, () => parseArchiveIndex(kind, file));
          if (this.allowed.size + index.count > MAX_SESSION_DIGESTS) {
            throw new FerryError(
              'FERRY_ERR_TOO_LARGE',
              `session would register more than ${MAX_SESSION_DIGESTS} chunks`,
            );
          }
          for (let i = 0; i < index.count; i++) this.allowed.add(index.digestAt(i));
        }
        return file;
      } finally {
        await lock.release();
      }
    });
  }

  /** FERRY_ERR_CHUNK_NOT_ALLOWED unless every digest was registered by an index download of this session. */
  assertAllowed(digests: readonly Digest[]): void {
    for (const d of digests) {
      if (!this.allowed.has(d)) {
        throw new FerryError(
          'FERRY_ERR_CHUNK_NOT_ALLOWED',
          `chunk ${shortDigest(d)} is not referenced by an index downloaded in this session`,
          {
            fields: { digest: d },
          },
        );
      }
    }
  }

  /**
   * The batch download body, piece by piece: one frame per digest, in order. Chunks go out while their bytes fit the
   * batch budget (at least one always does); the others come back `deferred`, missing ones `not-found`. Reads a few
   * chunk files ahead of the socket, into `sendBuffers`, and never holds the whole batch.
   */
  chunkFrames(digests: readonly Digest[]): AsyncGenerator<Buffer> {
    this.assertAllowed(digests);
    let budget = LIMITS.maxBatchBytes;
    let first = true;
    const plan = digests.map((digest): { digest: Digest; status: FrameStatus } => {
      const entry = this.ds.chunks.get(digest);
      if (entry === undefined) return { digest, status: 'not-found' };
      if (!first && entry.encodedSize > budget) return { digest, status: 'deferred' };
      first = false;
      budget -= entry.encodedSize;
      return { digest, status: 'ok' };
    });
    const ds = this.ds;
    const read = (digest: Digest): Promise<Buffer | undefined> =>
      ds.chunks.read(digest, sendBuffers).catch((err: unknown) => {
        if (isFerryError(err, 'FERRY_ERR_NOT_FOUND')) return undefined;
        throw addFrame(err, `chunk ${shortDigest(digest)}`);
      });
    async function* frames(): AsyncGenerator<Buffer> {
      const pending: (Promise<Buffer | undefined> | undefined)[] = plan.map(() => undefined);
      let next = 0;
      for (let i = 0; i < plan.length; i++) {
        for (; next < plan.length && next <= i + READ_AHEAD; next++) {
          const p = plan[next] as { digest: Digest; status: FrameStatus };
          if (p.status === 'ok') {
            const promise = read(p.digest);
            promise.catch(() => undefined); // observed below, in order
            pending[next] = promise;
          }
        }
        const { digest, status } = plan[i] as { digest: Digest; status: FrameStatus };
        const blob = status === 'ok' ? await pending[i] : undefined;
        pending[i] = undefined;
        if (blob === undefined) {
          yield encodeFrameHeader(digest, status === 'ok' ? 'not-found' : status, 0);
        } else {
          yield encodeFrameHeader(digest, 'ok', blob.length);
          yield blob;
        }
      }
    }
    return frames();
  }

  /**
   * Proof of possession (format's chunkProof: HMAC-SHA256 keyed with the nonce over the plain bytes, or over the blob
   * of an encrypted chunk) per digest, or null when this server cannot prove it. Registered digests only.
   */
  async prove(nonce: Buffer, digests: readonly Digest[]): Promise<(string | null)[]> {
    this.assertAllowed(digests);
    const proofs = await this.pool().prove(this.ds.path, nonce, digests);
    return proofs.map((p) => p?.toString('hex') ?? null);
  }

  async close(): Promise<void> {
    this.allowed.clear();
  }
}
