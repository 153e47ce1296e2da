import { createRequire } from 'node:module';
import { FerryError } from '../errors/index.js';

interface ZstdBinding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  DCtx: new () => { decompress(dst: Uint8Array, src: Uint8Array): number };
  compressBound(size: number): number;
  getFrameContentSize(frame: Uint8Array): number | null;
}

// The native binding, used directly so that output sizes are bounded before anything is allocated.
const binding = createRequire(import.meta.url)('zstd-napi/binding.js') as ZstdBinding;

// One context per thread (this module is instantiated once per worker thread).
let cctx: InstanceType<ZstdBinding['CCtx']> | undefined;
let dctx: InstanceType<ZstdBinding['DCtx']> | undefined;

export function zstdCompressBound(size: number): number {
  return binding.compressBound(size);
}

/** Compresses `src` into `dst` (which must hold `zstdCompressBound(src.length)` bytes); returns the length. */
export function zstdCompressInto(dst: Uint8Array, src: Uint8Array, level: number): number {
  cctx ??= new binding.CCtx();
  return cctx.compress(dst, src, level);
}

/**
 * Decompresses one zstd frame whose content is at most `maxSize` bytes (into `scratch` when given and large enough). A frame that declares a larger size, or none
 * and turns out larger, is refused before (or instead of) allocating for it.
 */
export function zstdDecompressBounded(src: Uint8Array, maxSize: number, scratch?: Buffer): Buffer {
  dctx ??= new binding.DCtx();
  let declared: number | null;
  try {
    declared = binding.getFrameContentSize(src);
  } catch (err) {
    throw new FerryError('FERRY_ERR_BAD_FORMAT', 'zstd frame header is invalid', { cause: err });
  }
  if (declared !== null && declared > maxSize) {
    throw new FerryError(
      'FERRY_ERR_TOO_LARGE',
      `zstd frame declares ${declared} bytes, more than the limit ${maxSize}`,
    );
  }
  const size = declared ?? maxSize;
  // With scratch space (a view of it is returned), nothing is allocated: for callers that only hash the result.
  const out =
    scratch !== undefined && scratch.length >= size ? scratch.subarray(0, size) : Buffer.allocUnsafe(size);
  let n: number;
  try {
    n = dctx.decompress(out, src);
  } catch (err) {
    throw new FerryError('FERRY_ERR_BAD_FORMAT', `zstd data is corrupt: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (declared !== null && n !== declared) {
    throw new FerryError('FERRY_ERR_BAD_FORMAT', `zstd frame declares ${declared} bytes but holds ${n}`);
  }
  if (n === out.length) return out;
  return scratch !== undefined ? out.subarray(0, n) : Buffer.from(out.subarray(0, n));
}

/** The content size a zstd frame header declares, or undefined (unknown or not a valid header). */
export function zstdFrameContentSize(frame: Uint8Array): number | undefined {
  try {
    return binding.getFrameContentSize(frame) ?? undefined;
  } catch {
    return undefined;
  }
}
