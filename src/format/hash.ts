import { createHash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** CRC-32 (IEEE, as zlib and crc32fast compute it). */
export function crc32(data: Uint8Array): number {
  return zlibCrc32(data) >>> 0;
}
