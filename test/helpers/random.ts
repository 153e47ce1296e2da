import { fillRandom } from '../../bench/workload.js';

/** Seeded pseudo-random bytes (the workload generator's xorshift32): same seed, same bytes, on every machine. */
export function seededBytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(Math.ceil(length / 4) * 4);
  fillRandom(out, seed);
  return out.subarray(0, length);
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
