import { FerryError, isFerryError } from '../errors/index.js';
import type { CryptMode } from '../format/index.js';
import {
  type Digest,
  formatSnapshot,
  type Namespace,
  type SnapshotRef,
  type StoreName,
} from '../model/index.js';
import {
  AcceptedData,
  ChallengeData,
  CONTENT_TYPE,
  EmptyData,
  encodeFrames,
  KnownData,
  LIMITS,
  routePath,
  UploadData,
} from '../protocol/index.js';
import type { Transport } from './transport.js';

export interface ChunkUpload {
  digest: Digest;
  /** The chunk's DataBlob, as stored (compressed and/or encrypted). The server verifies it against `digest`. */
  blob: Uint8Array;
}

export interface UploadStats {
  chunks: number;
  /** Chunks the server did not have yet. */
  newChunks: number;
  bytes: number;
}

/**
 * A writer session on the server: one new snapshot of one group. Typical order: `downloadPrevious` for each archive
 * of the previous snapshot (registers its chunks), `known` to skip chunks the server may already reference,
 * `uploadChunks` for the rest, `uploadFile` for each index and blob, then `finish` with the manifest. `abort` (or
 * just going away: the server times the session out) leaves nothing behind.
 */
export class WriterSession {
  readonly id: string;
  readonly store: StoreName;
  readonly ns: Namespace;
  readonly snapshot: SnapshotRef;
  /** Time of the group's previous snapshot, if the server has a usable one. */
  readonly previousTime: number | undefined;
  private readonly transport: Transport;
  private readonly onClose: () => void;
  private state: 'open' | 'finished' | 'aborted' = 'open';

  constructor(fields: {
    id: string;
    store: StoreName;
    ns: Namespace;
    snapshot: SnapshotRef;
    previousTime: number | undefined;
    transport: Transport;
    onClose: () => void;
  }) {
    this.id = fields.id;
    this.store = fields.store;
    this.ns = fields.ns;
    this.snapshot = fields.snapshot;
    this.previousTime = fields.previousTime;
    this.transport = fields.transport;
    this.onClose = fields.onClose;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** A file of the previous snapshot; an index registers its chunks so this session may reference them. */
  async downloadPrevious(fileName: string, options: { signal?: AbortSignal } = {}): Promise<Buffer> {
    return this.transport.bytes({
      method: 'GET',
      path: routePath('writerPrevious', { session: this.id }),
      query: { 'file-name': fileName },
      idempotent: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * For each digest: true when the server has the chunk and this session may reference it (uploaded in this session
   * or registered by `downloadPrevious`). Batches run in parallel.
   */
  async known(digests: readonly Digest[], options: { signal?: AbortSignal } = {}): Promise<boolean[]> {
    const batches: Digest[][] = [];
    for (let i = 0; i < digests.length; i += LIMITS.maxBatchDigests)
      batches.push(digests.slice(i, i + LIMITS.maxBatchDigests));
    const answers = await Promise.all(
      batches.map((batch) =>
        this.transport.json<boolean[]>(
          {
            method: 'POST',
            path: routePath('writerKnown', { session: this.id }),
            json: { digests: batch },
            idempotent: true,
            ...(options.signal ? { signal: options.signal } : {}),
          },
          KnownData,
          'known chunks',
        ),
      ),
    );
    const out = answers.flat();
    if (out.length !== digests.length) {
      throw new FerryError('FERRY_ERR_PROTOCOL', `known: ${out.length} answers for ${digests.length} chunks`);
    }
    return out;
  }

  /** Asks the server for a nonce to prove possession of chunks it already has (see acceptProofs). */
  async challenge(options: { signal?: AbortSignal } = {}): Promise<Buffer> {
    const data = await this.transport.json<{ nonce: string }>(
      {
        method: 'POST',
        path: routePath('writerChallenge', { session: this.id }),
        json: { digests: [] },
        idempotent: false,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      ChallengeData,
      'challenge',
    );
    return Buffer.from(data.nonce, 'hex');
  }

  /**
   * Sends proofs (HMAC over the chunk, keyed with the challenge's nonce; undefined where the client has none) for
   * chunks the server may already hold. Those it accepts become referenceable without an upload. One call per
   * challenge (the server forgets the nonce after it).
   */
  async acceptProofs(
    nonce: Uint8Array,
    digests: readonly Digest[],
    proofs: readonly (Buffer | undefined)[],
    options: { signal?: AbortSignal } = {},
  ): Promise<boolean[]> {
    if (digests.length !== proofs.length)
      throw new FerryError('FERRY_ERR_INVALID_VALUE', 'one proof per digest is needed');
    if (digests.length > LIMITS.maxProveDigests) {
      throw new FerryError('FERRY_ERR_TOO_LARGE', `at most ${LIMITS.maxProveDigests} proofs per challenge`);
    }
    const accepted = await this.transport.json<boolean[]>(
      {
        method: 'POST',
        path: routePath('writerProve', { session: this.id }),
        json: {
          nonce: Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString('hex'),
          digests,
          proofs: proofs.map((p) => (p === undefined ? null : p.toString('hex'))),
        },
        idempotent: false,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      AcceptedData,
      'proof answers',
    );
    if (accepted.length !== digests.length) {
      throw new FerryError(
        'FERRY_ERR_PROTOCOL',
        `prove: ${accepted.length} answers for ${digests.length} chunks`,
      );
    }
    return accepted;
  }

  /**
   * Uploads chunks in framed batches (within the server's count and byte limits), up to one batch per pool
   * connection at once. Inserting is idempotent on the server, so failed batches are retried.
   */
  async uploadChunks(
    chunks: readonly ChunkUpload[],
    options: { signal?: AbortSignal } = {},
  ): Promise<UploadStats> {
    // As for batch downloads: spread over the pool's connections, within the server's count and byte limits.
    const totalBytes = chunks.reduce((sum, c) => sum + c.blob.byteLength, 0);
    const connections = this.transport.connections;
    const maxCount = Math.min(LIMITS.maxBatchDigests, Math.max(16, Math.ceil(chunks.length / connections)));
    const maxBytes = Math.min(
      LIMITS.maxBatchBytes,
      Math.max(4 * 1024 * 1024, Math.ceil(totalBytes / connections)),
    );
    const batches: ChunkUpload[][] = [];
    let current: ChunkUpload[] = [];
    let bytes = 0;
    for (const c of chunks) {
      if (c.blob.byteLength > LIMITS.maxChunkBlob) {
        throw new FerryError(
          'FERRY_ERR_TOO_LARGE',
          `chunk ${c.digest.slice(0, 8)} is ${c.blob.byteLength} bytes, more than ${LIMITS.maxChunkBlob}`,
        );
      }
      if (current.length > 0 && (current.length >= maxCount || bytes + c.blob.byteLength > maxBytes)) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(c);
      bytes += c.blob.byteLength;
    }
    if (current.length > 0) batches.push(current);
    const total: UploadStats = { chunks: 0, newChunks: 0, bytes: 0 };
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++] as ChunkUpload[];
        const r = await this.transport.json<UploadData>(
          {
            method: 'POST',
            path: routePath('writerChunks', { session: this.id }),
            body: encodeFrames(batch),
            contentType: CONTENT_TYPE.chunkFrames,
            idempotent: true,
            ...(options.signal ? { signal: options.signal } : {}),
          },
          UploadData,
          'chunk upload',
        );
        total.chunks += r.chunks;
        total.newChunks += r['new-chunks'];
        total.bytes += r.bytes;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.transport.connections, batches.length) }, worker));
    return total;
  }

  /** Uploads an archive: an index (`.fidx`/`.didx`, whose chunks must be referenceable) or a `.blob`. */
  async uploadFile(
    fileName: string,
    bytes: Uint8Array,
    options: { cryptMode?: CryptMode; signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.transport.json(
      {
        method: 'POST',
        path: routePath('writerFile', { session: this.id }),
        query: { 'file-name': fileName, 'crypt-mode': options.cryptMode ?? 'none' },
        body: [bytes],
        contentType: CONTENT_TYPE.octets,
        idempotent: true,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      EmptyData,
      'file upload',
    );
  }

  /** Publishes the snapshot with this manifest blob (`index.json.blob`); the session ends. */
  async finish(manifestBlob: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.transport.json(
      {
        method: 'POST',
        path: routePath('writerFinish', { session: this.id }),
        body: [manifestBlob],
        contentType: CONTENT_TYPE.octets,
        idempotent: false,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      EmptyData,
      'finish',
    );
    this.state = 'finished';
    this.onClose();
  }

  /** Drops the snapshot on the server and frees the group. Idempotent; a no-op after finish. */
  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.onClose();
    await this.transport
      .json(
        { method: 'DELETE', path: routePath('writer', { session: this.id }), idempotent: false },
        EmptyData,
        'abort',
      )
      .catch((err: unknown) => {
        if (!isFerryError(err, 'FERRY_ERR_NOT_FOUND')) throw err;
      });
  }

  toString(): string {
    return `writer ${this.id} (${this.store}:${formatSnapshot(this.snapshot)})`;
  }
}
