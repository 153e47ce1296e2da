import type { WireError } from '../errors/index.js';
import type { Digest } from '../model/index.js';

/** Messages between ChunkPool (any thread) and workers/chunk.worker.ts. Typed errors do not cross threads: results carry a WireError. */
export type ChunkTask =
  | {
      op: 'store';
      storePath: string;
      /** Plain chunk bytes (moved, not copied). */
      data: Uint8Array;
    }
  | {
      /**
       * Read `length` bytes at `offset` of `file` in the worker through `fd` (the caller's descriptor, open for the
       * whole backup: descriptors belong to the process, so any thread reads through it), then store them like
       * `store`. `file` names the file in errors.
       */
      op: 'store-range';
      storePath: string;
      file: string;
      fd: number;
      offset: number;
      length: number;
    }
  | {
      /** Verify a received chunk blob in full against `digest`, then store it unless the store has it. */
      op: 'insert';
      storePath: string;
      digest: Digest;
      /** The DataBlob (moved when it owns its buffer, else copied). */
      blob: Uint8Array;
      /** Largest plain size accepted. */
      maxSize: number;
      /** The blob's whole buffer was lent: it goes back with the result (`data`) for reuse. */
      lent?: boolean;
    }
  | {
      op: 'verify';

      storePath: string;
      digest: Digest;
      /** Plain size the index expects, when it knows it. */
      expectedSize: number | undefined;
      encrypted: boolean;
    }
  | {
      /** Proof of possession of a stored chunk (format's chunkProof) for the verifier's `nonce`. */
      op: 'prove';
      storePath: string;
      digest: Digest;
      nonce: Uint8Array;
    };

export type StoreResult = {
  ok: true;
  digest: Digest;
  isNew: boolean;
  encodedSize: number;
  plainSize: number;
  /** The task's data buffer, moved back for reuse. */
  data?: Uint8Array;
};
export type VerifyResult = { ok: true; encodedSize: number; plainSize: number | undefined };
export type VerifiedInsert = VerifyResult & {
  isNew: boolean;
  /** The lent blob, moved back for reuse (its memory: the whole buffer the caller lent). */
  data?: Uint8Array;
};
/** `proof` is undefined when the store cannot prove the chunk: missing, unreadable or damaged. */
export type ProveResult = { ok: true; proof: Uint8Array | undefined };
export type ChunkFailure = { ok: false; error: WireError };
export type ChunkResult = StoreResult | VerifyResult | VerifiedInsert | ProveResult | ChunkFailure;
