import { createHash } from 'node:crypto';
import { crc32 as fastCrc32 } from '@node-rs/crc32';

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * CRC-32 (IEEE, as zlib computes it) through the crc32fast crate, which is what PBS itself uses: about 4× faster
 * than node:zlib's crc32 here, and it runs on every byte Ferry stores.
 */
export function crc32(data: Uint8Array): number {
  return fastCrc32(data) >>> 0;
}
