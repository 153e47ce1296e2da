/** Seeded pseudo-random bytes (xorshift32): the same seed gives the same bytes on every machine. */
export function seededBytes(seed: number, length: number): Buffer {
  const words = new Int32Array(Math.ceil(length / 4));
  let x = Math.imul(seed | 0, 0x9e3779b1) ^ 0x2545f491 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return Buffer.from(words.buffer, 0, length);
}

/** Compressible but not trivial bytes: seeded words from a small vocabulary. */
export function compressibleBytes(seed: number, length: number): Buffer {
  const vocabulary = ['alpha ', 'beta ', 'gamma ', 'delta ', 'backup ', 'chunk ', 'ferry ', 'snapshot\n'];
  const out = Buffer.allocUnsafe(length);
  const picks = seededBytes(seed, Math.ceil(length / 4));
  let at = 0;
  for (let i = 0; at < length; i++)
    at += out.write(vocabulary[(picks[i % picks.length] as number) & 7] as string, at);
  return out;
}
