import { createHmac } from 'node:crypto';
import { blobKind, checkBlob, eachPlainPiece, isEncryptedKind } from './data-blob.js';
import { MAX_BLOB_SIZE } from './limits.js';

/**
 * Proof that one holds a chunk: HMAC-SHA256 keyed with the verifier's fresh nonce over the chunk's plain bytes (over
 * the blob itself for encrypted chunks, which both sides store byte for byte). Two stores that encode the same chunk
 * differently (compressed or not) still agree; a party that only knows the digest cannot answer. A compressed blob
 * is decoded piece by piece into the HMAC, never whole (a proof of a 4 MiB chunk took a fresh 4 MiB buffer).
 */
export function chunkProof(nonce: Uint8Array, blob: Uint8Array): Buffer {
  const hmac = createHmac('sha256', nonce);
  if (isEncryptedKind(blobKind(blob))) hmac.update(blob);
  else eachPlainPiece(blob, checkBlob(blob), MAX_BLOB_SIZE, (piece) => hmac.update(piece));
  return hmac.digest();
}
