/** Seeded pseudo-random bytes (xorshift32): the same seed gives the same bytes on every machine. */
export function seededBytes(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil(length / 4) * 4);
  let x = Math.imul(seed | 0, 0x9e3779b1) ^ 0x2545f491 || 1;
  for (let i = 0; i < out.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeInt32LE(x | 0, i);
  }
  return out.subarray(0, length);
}
