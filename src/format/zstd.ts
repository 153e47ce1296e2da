import { createRequire } from 'node:module';
import { FerryError } from '../errors/index.js';

interface ZstdBinding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  DCtx: new () => {
    decompress(dst: Uint8Array, src: Uint8Array): number;
    decompressStream(
      dst: Uint8Array,
      src: Uint8Array,
    ): [remaining: number, produced: number, consumed: number];
    reset(directive: number): void;
  };
  compressBound(size: number): number;
  ResetDirective: { sessionOnly: number };
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
 * Decompresses one zstd frame whose content is at most `maxSize` bytes. A frame that declares a larger size, or none
 * and turns out larger, is refused before (or instead of) allocating for it.
 */
export function zstdDecompressBounded(src: Uint8Array, maxSize: number): Buffer {
  dctx ??= new binding.DCtx();
  const declared = declaredSize(src, maxSize);
  const out = Buffer.allocUnsafe(declared ?? maxSize);
  let n: number;
  try {
    n = dctx.decompress(out, src);
  } catch (err) {
    throw corrupt(err);
  }
  checkHolds(declared, n);
  return n === out.length ? out : Buffer.from(out.subarray(0, n));
}

function corrupt(err: unknown): FerryError {
  return new FerryError('FERRY_ERR_BAD_FORMAT', `zstd data is corrupt: ${(err as Error).message}`, {
    cause: err,
  });
}

function checkHolds(declared: number | null, actual: number): void {
  if (declared !== null && actual !== declared)
    throw new FerryError('FERRY_ERR_BAD_FORMAT', `zstd frame declares ${declared} bytes but holds ${actual}`);
}

/** The content size the frame header declares (null: none), refused when over `maxSize` or when the header is bad. */
function declaredSize(src: Uint8Array, maxSize: number): number | null {
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
  return declared;
}

// Output piece of streaming decompression: small enough to stay in a core's cache while it is hashed.
const PIECE_SIZE = 256 * 1024;
let streamCtx: InstanceType<ZstdBinding['DCtx']> | undefined;
let piece: Buffer | undefined;

/**
 * Decompresses zstd data piece by piece, handing each piece to `onPiece` (synchronously: the piece's memory is reused
 * for the next one); returns the decompressed length. For callers that only hash the result (verification): no
 * buffer of the whole content, just 256 KiB plus the decoder's window (512 KiB at level 1). Same checks as
 * zstdDecompressBounded: a declared or actual size over `maxSize`, a size other than the one declared, corrupt or
 * truncated data.
 */
export function zstdDecompressEach(
  src: Uint8Array,
  maxSize: number,
  onPiece: (piece: Buffer) => void,
): number {
  const declared = declaredSize(src, maxSize);
  streamCtx ??= new binding.DCtx();
  piece ??= Buffer.allocUnsafeSlow(PIECE_SIZE);
  streamCtx.reset(binding.ResetDirective.sessionOnly); // an earlier call may have stopped inside a frame
  let input = src;
  let total = 0;
  for (;;) {
    let remaining: number;
    let produced: number;
    let consumed: number;
    try {
      [remaining, produced, consumed] = streamCtx.decompressStream(piece, input);
    } catch (err) {
      throw corrupt(err);
    }
    input = input.subarray(consumed);
    if (produced > 0) {
      total += produced;
      if (total > maxSize)
        throw new FerryError('FERRY_ERR_TOO_LARGE', `zstd data holds more than the limit ${maxSize} bytes`);
      onPiece(piece.subarray(0, produced));
    }
    if (remaining === 0 && input.length === 0) break; // every frame ended, all input used
    if (produced === 0 && consumed === 0)
      throw new FerryError('FERRY_ERR_BAD_FORMAT', 'zstd data is corrupt: it ends inside a frame');
  }
  checkHolds(declared, total);
  return total;
}

/** The content size a zstd frame header declares, or undefined (unknown or not a valid header). */
export function zstdFrameContentSize(frame: Uint8Array): number | undefined {
  try {
    return binding.getFrameContentSize(frame) ?? undefined;
  } catch {
    return undefined;
  }
}
