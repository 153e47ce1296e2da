import { createHash } from 'node:crypto';
import { invalid } from './safe-id.js';

/** SHA-256 of a chunk's plain bytes, as 64 lowercase hex characters. Made only by `parseDigest` or `digestOf`. */
export type Digest = string & { readonly __brand: 'Digest' };

const DIGEST_RE = /^[0-9a-f]{64}$/;

export function parseDigest(value: unknown): Digest {
  if (typeof value !== 'string' || !DIGEST_RE.test(value))
    invalid('digest', value, 'expected 64 lowercase hex characters');
  return value as Digest;
}

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

/** The digest of plain chunk bytes. */
export function digestOf(plain: Uint8Array): Digest {
  return createHash('sha256').update(plain).digest('hex') as Digest;
}

/** Hex form of 32 raw digest bytes (from an index file). */
export function digestFromBytes(bytes: Uint8Array): Digest {
  if (bytes.length !== 32) invalid('digest', `${bytes.length} bytes`, 'expected 32 bytes');
  return Buffer.from(bytes.buffer, bytes.byteOffset, 32).toString('hex') as Digest;
}

export function digestToBytes(digest: Digest): Buffer {
  return Buffer.from(digest, 'hex');
}

/** Short form for messages: the first 8 hex characters, as PBS and git print them. */
export function shortDigest(digest: Digest): string {
  return digest.slice(0, 8);
}
