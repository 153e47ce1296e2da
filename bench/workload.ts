/**
 * Deterministic test data for benchmarks: disk images mixing random (incompressible), compressible and zero
 * blocks, the way VM disks look. Same seed, same bytes, on every machine.
 */
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseBackupSpec, runBackup } from '../src/backup/index.js';
import { silentLogger } from '../src/log/index.js';
import { makeGroup, parseAuthId, ROOT_NAMESPACE } from '../src/model/index.js';
import type { ChunkPool, Datastore } from '../src/store/index.js';

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

export interface DatastoreWorkload {
  /** Groups (vm/100, vm/101, …). */
  groups: number;
  /** Snapshots per group. */
  snapshots: number;
  /** Image size per snapshot. */
  imageBytes: number;
  /** Fraction of blocks that change from one snapshot to the next (default 0.05). */
  changeRate?: number;
  /** Fraction of blocks shared by all groups (a common template; default 0.3). */
  shared?: number;
  mix?: ImageMix;
  seed?: number;
  /** Also back up a small directory tree per snapshot (a `.tar` archive). */
  withTree?: boolean;
  /** Start at this snapshot index (add snapshots to a store built with the same workload). */
  fromSnapshot?: number;
}

/**
 * Fills a datastore through Ferry's own backup path: each group's image starts from a shared template (the `shared`
 * fraction of blocks is the same in every group), and between snapshots `changeRate` of the blocks get new content.
 * Deterministic from the seed.
 */
export async function buildDatastore(
  ds: Datastore,
  pool: ChunkPool,
  scratch: string,
  w: DatastoreWorkload,
): Promise<{ images: number; logicalBytes: number }> {
  const seed = w.seed ?? 1;
  const blocks = Math.ceil(w.imageBytes / BLOCK);
  const sharedBlocks = Math.floor(blocks * (w.shared ?? 0.3));
  const rate = w.changeRate ?? 0.05;
  const changed = rate > 0 ? Math.max(1, Math.round(blocks * rate)) : 0;
  let images = 0;
  const block = Buffer.allocUnsafe(BLOCK);
  for (let g = 0; g < w.groups; g++) {
    const versions = new Int32Array(blocks);
    for (let s = 0; s < w.snapshots; s++) {
      for (let c = 0; s > 0 && c < changed; c++) {
        const b = (s * 7919 + c * 104_729 + g * 31) % blocks;
        versions[b] = (versions[b] ?? 0) + 1;
      }
      if (s < (w.fromSnapshot ?? 0)) continue;
      const image = join(scratch, `image-${g}`);
      const fh = await open(image, 'w');
      for (let b = 0; b < blocks; b++) {
        const shared = b < sharedBlocks && versions[b] === 0;
        fillBlock(block, shared ? seed : seed * 1000 + g + 1, b, versions[b] ?? 0, w.mix);
        await fh.write(block, 0, Math.min(BLOCK, w.imageBytes - b * BLOCK), b * BLOCK);
      }
      await fh.close();
      const sources = [parseBackupSpec(`drive-scsi0.img:${image}`)];
      if (w.withTree) {
        const tree = join(scratch, `tree-${g}`);
        await mkdir(join(tree, 'etc'), { recursive: true });
        await writeFile(join(tree, 'etc', 'hostname'), `vm${100 + g}\n`);
        await writeFile(join(tree, 'etc', 'snapshot'), `${s}\n`);
        sources.push(parseBackupSpec(`root.tar:${tree}`));
      }
      await runBackup(ds, {
        ns: ROOT_NAMESPACE,
        group: makeGroup('vm', String(100 + g)),
        time: Date.UTC(2026, 0, 1) / 1000 + s * 86_400,
        owner: parseAuthId('root@pam'),
        sources,
        pool,
        log: silentLogger(),
      });
      images++;
    }
  }
  return { images, logicalBytes: images * w.imageBytes };
}
