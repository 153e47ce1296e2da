import { MAX_BLOB_SIZE, MAX_ENCODED_CHUNK_SIZE } from '../format/index.js';

/**
 * The API's size and count limits, shared by the server (which enforces them) and the client (which plans its
 * batches within them).
 */
export const LIMITS = {
  /** Digests in one batch download, "known" query or chunk upload. */
  maxBatchDigests: 1024,
  /**
   * Chunk bytes one batch download streams; chunks past this budget come back as `deferred` frames for the
   * client to ask again. Also the most chunk bytes one upload request may carry.
   */
  maxBatchBytes: 64 * 1024 * 1024,
  /** Digests in one proof-of-possession request (each costs the server a decode and an HMAC). */
  maxProveDigests: 256,
  /** Nonce bytes for a proof: at least 16 random bytes. */
  minNonceBytes: 16,
  maxNonceBytes: 64,
  /** One chunk blob (16 MiB of data plus the largest blob header). */
  maxChunkBlob: MAX_ENCODED_CHUNK_SIZE,
  /** A JSON request body. */
  maxJsonBody: 256 * 1024,
  /** An uploaded archive file (index or blob). */
  maxFileBody: MAX_BLOB_SIZE + 64,
  /** The manifest blob sent to `finish`. */
  maxManifestBody: 16 * 1024 * 1024,
  /** Files one reader open may ask to have sent along. */
  maxPrefetchFiles: 32,
  /** File bytes a reader open sends along at most (a file past this budget is left for a download). */
  maxPrefetchBytes: 4 * 1024 * 1024,
  /** Bytes one speed-test request sends or takes. */
  maxSpeedtestBytes: 64 * 1024 * 1024,
} as const;
