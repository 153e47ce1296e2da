import { createHmac } from 'node:crypto';
import { blobKind, decodeBlob, isEncryptedKind } from './data-blob.js';
import { MAX_BLOB_SIZE } from './limits.js';

/**
 * Proof that one holds a chunk: HMAC-SHA256 keyed with the verifier's fresh nonce over the chunk's plain bytes (over
 * the blob itself for encrypted chunks, which both sides store byte for byte). Two stores that encode the same chunk
 * differently (compressed or not) still agree; a party that only knows the digest cannot answer.
 */
export function chunkProof(nonce: Uint8Array, blob: Uint8Array): Buffer {
  const content = isEncryptedKind(blobKind(blob)) ? blob : decodeBlob(blob, MAX_BLOB_SIZE);
  return createHmac('sha256', nonce).update(content).digest();
}
