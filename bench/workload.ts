/**
 * Deterministic test data for benchmarks: disk images mixing random (incompressible), compressible and zero
 * blocks, the way VM disks look. Same seed, same bytes, on every machine.
 */
import { open } from 'node:fs/promises';

const BLOCK = 4 * 1024 * 1024;

export interface ImageMix {
  /** Fraction of 4 MiB blocks that are compressible text (default 0.4). */
  compressible?: number;
  /** Fraction of blocks that are zeros (default 0.1). The rest is random. */
  zero?: number;
}

/** xorshift32 over an Int32Array: ~1 GB/s, deterministic. */
export function fillRandom(target: Buffer, seed: number): void {
  const words = new Int32Array(target.buffer, target.byteOffset, Math.floor(target.length / 4));
  let x = Math.imul(seed | 0, 0x9e3779b1) ^ 0x2545f491 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
}

const WORDS = ['alpha ', 'beta ', 'gamma ', 'delta ', 'backup ', 'chunk ', 'ferry ', 'snapshot\n'];

export function fillCompressible(target: Buffer, seed: number): void {
  const picks = Buffer.allocUnsafe(Math.ceil(target.length / 4));
  fillRandom(picks, seed);
  let at = 0;
  for (let i = 0; at < target.length; i++)
    at += target.write(WORDS[(picks[i % picks.length] as number) & 7] as string, at);
}

/** murmur3's finaliser: spreads every input bit over the whole word. */
function mix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The kind of block `index` of an image with `seed` is (deterministic). */
export function blockKind(
  seed: number,
  index: number,
  mix: ImageMix = {},
): 'random' | 'compressible' | 'zero' {
  const r = mix32(Math.imul(seed + 1, 0x9e3779b1) ^ (index + 1)) / 2 ** 32;
  const zero = mix.zero ?? 0.1;
  const compressible = mix.compressible ?? 0.4;
  if (r < zero) return 'zero';
  if (r < zero + compressible) return 'compressible';
  return 'random';
}

/** Fills one 4 MiB block of an image; `version` changes its content (for "changed blocks" between snapshots). */
export function fillBlock(
  target: Buffer,
  seed: number,
  index: number,
  version = 0,
  mix: ImageMix = {},
): void {
  const kind = blockKind(seed, index, mix);
  const blockSeed = seed * 1_000_003 + index * 7919 + version * 104_729;
  if (kind === 'zero') target.fill(0);
  else if (kind === 'compressible') fillCompressible(target, blockSeed);
  else fillRandom(target, blockSeed);
}

/** Writes an image of `size` bytes; blocks listed in `changed` get a new version (content). */
export async function writeImage(
  path: string,
  size: number,
  seed: number,
  options: { mix?: ImageMix; changed?: ReadonlySet<number>; version?: number } = {},
): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const block = Buffer.allocUnsafe(BLOCK);
    for (let offset = 0, index = 0; offset < size; offset += BLOCK, index++) {
      const version = options.changed?.has(index) ? (options.version ?? 1) : 0;
      fillBlock(block, seed, index, version, options.mix);
      const length = Math.min(BLOCK, size - offset);
      await fh.write(block, 0, length, offset);
    }
  } finally {
    await fh.close();
  }
}
