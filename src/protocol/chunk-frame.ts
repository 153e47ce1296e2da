import { FerryError } from '../errors/index.js';
import { type Digest, digestFromBytes, digestToBytes, shortDigest } from '../model/index.js';

/**
 * Chunk frames: how many chunks travel in one HTTP body (batch download responses, batch upload requests).
 *
 *   frame  := digest[32] ‖ status u32 LE ‖ length u32 LE ‖ bytes[length]
 *   status := 0 ok (bytes = the chunk's DataBlob) · 1 not-found · 2 deferred (over the batch's byte budget: ask again)
 *
 * Frames follow each other with nothing in between; a body is a whole number of frames. Non-ok frames carry no bytes.
 * A body that ends inside a frame is truncated (FERRY_ERR_TRUNCATED), never a shorter valid batch.
 */
export const FRAME_HEADER_SIZE = 40;

export type FrameStatus = 'ok' | 'not-found' | 'deferred';

const STATUS_CODES: Readonly<Record<FrameStatus, number>> = { ok: 0, 'not-found': 1, deferred: 2 };
const STATUS_NAMES: readonly FrameStatus[] = ['ok', 'not-found', 'deferred'];

export interface ChunkFrame {
  digest: Digest;
  status: FrameStatus;
  /** The chunk blob for `ok` frames; empty otherwise. */
  blob: Buffer;
}

export interface FrameLimits {
  /** Frames in one body. */
  maxFrames: number;
  /** Bytes in one frame. */
  maxBlob: number;
  /** Frame bytes (without headers) in one body. */
  maxTotal: number;
}

export function encodeFrameHeader(digest: Digest, status: FrameStatus, length: number): Buffer {
  if (status !== 'ok' && length !== 0) throw new Error(`a ${status} frame carries no bytes`);
  const header = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  digestToBytes(digest).copy(header, 0);
  header.writeUInt32LE(STATUS_CODES[status], 32);
  header.writeUInt32LE(length, 36);
  return header;
}

/** Encodes whole frames (for bodies built in memory: uploads, tests). */
export function encodeFrames(frames: readonly { digest: Digest; blob: Uint8Array }[]): Buffer[] {
  const parts: Buffer[] = [];
  for (const f of frames) {
    parts.push(encodeFrameHeader(f.digest, 'ok', f.blob.length));
    parts.push(Buffer.from(f.blob.buffer, f.blob.byteOffset, f.blob.byteLength));
  }
  return parts;
}

function frameError(code: 'FERRY_ERR_BAD_FORMAT' | 'FERRY_ERR_TOO_LARGE', index: number, detail: string) {
  return new FerryError(code, `chunk frame ${index}: ${detail}`, { fields: { frame: index } });
}

const RECYCLE_MIN = 64 * 1024;
// Room for a whole fixed-size chunk blob (4 MiB plain, stored uncompressed, plus its header), so one buffer fits all.
const RECYCLE_CAPACITY = 4 * 1024 * 1024 + 64 * 1024;

/**
 * Memory for chunk blobs, reused and bounded. At most `capacity` large blobs are lent out at once: a stream that
 * wants one more waits (its socket stays unread, so TCP slows the sender) until a consumer hands one back with
 * `give` (nothing refers to it any more: a later frame is read into the same memory) or `release` (the consumer
 * keeps it: its memory is the consumer's to account for). One object serves all of a thread's streams, so a thread
 * allocates its handful of chunk buffers once: without this every chunk was a fresh 4 MiB allocation that only a
 * full garbage collection freed, and with several batches in flight per group and several streams per batch, a
 * thread held 14 and more chunks at once. Small blobs come from Node's shared pool and are not counted.
 */
export class FrameBuffers {
  private readonly free: Buffer[] = [];
  // Weak: a blob the consumer keeps must not be held alive by this bookkeeping.
  private readonly lent = new WeakSet<ArrayBufferLike>();
  private lentCount = 0;
  private readonly waiters: (() => void)[] = [];
  readonly capacity: number;

  constructor(capacity = 4) {
    if (!(capacity >= 1)) throw new RangeError(`FrameBuffers capacity must be at least 1, not ${capacity}`);
    this.capacity = capacity;
  }

  /** Large blobs lent out and not yet given back or released. */
  get inUse(): number {
    return this.lentCount;
  }

  /** Memory for a blob of `length` bytes; waits while `capacity` large blobs are out. */
  async take(length: number): Promise<Buffer> {
    if (length < RECYCLE_MIN) return Buffer.allocUnsafe(length);
    while (this.lentCount >= this.capacity) await new Promise<void>((resolve) => this.waiters.push(resolve));
    let i = -1; // the smallest free buffer that fits
    for (let j = 0; j < this.free.length; j++) {
      const size = (this.free[j] as Buffer).length;
      if (size >= length && (i < 0 || size < (this.free[i] as Buffer).length)) i = j;
    }
    const whole =
      i >= 0
        ? (this.free.splice(i, 1)[0] as Buffer)
        : Buffer.allocUnsafeSlow(Math.max(length, RECYCLE_CAPACITY));
    this.lent.add(whole.buffer);
    this.lentCount++;
    return whole.subarray(0, length);
  }

  /** `blob` (from `take`) is no longer referenced by anyone: its memory may hold a later frame. */
  give(blob: Buffer): void {
    if (!this.settle(blob)) return;
    if (this.free.length < this.capacity) this.free.push(Buffer.from(blob.buffer, 0, blob.buffer.byteLength));
  }

  /** `blob` (from `take`) stays with the consumer: it no longer counts against the capacity, and is never reused. */
  release(blob: Buffer): void {
    this.settle(blob);
  }

  private settle(blob: Buffer): boolean {
    if (!this.lent.delete(blob.buffer)) return false; // not ours, or already settled
    this.lentCount--;
    this.waiters.shift()?.();
    return true;
  }
}

/**
 * Reads frames from a byte stream as they complete, holding at most one frame in memory. Checks each header against
 * `limits` before reading its bytes, so a hostile length never allocates. The consumer's pace is the stream's pace:
 * the next piece is read only after the consumer asks for the next frame. With `buffers`, blob memory comes from there
 * (bounded: reading waits for a free buffer), and the consumer settles each large blob with `give` or `release`.
 */
export async function* readChunkFrames(
  source: AsyncIterable<Uint8Array>,
  limits: FrameLimits,
  buffers?: FrameBuffers,
): AsyncGenerator<ChunkFrame> {
  const header = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  let headerFill = 0;
  let current: { digest: Digest; status: FrameStatus; blob: Buffer; fill: number } | undefined;
  let frames = 0;
  let total = 0;
  try {
    for await (const piece of source) {
      let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      while (buf.length > 0) {
        if (current === undefined) {
          const n = Math.min(FRAME_HEADER_SIZE - headerFill, buf.length);
          buf.copy(header, headerFill, 0, n);
          headerFill += n;
          buf = buf.subarray(n);
          if (headerFill < FRAME_HEADER_SIZE) break;
          headerFill = 0;
          const digest = digestFromBytes(header.subarray(0, 32));
          const status = STATUS_NAMES[header.readUInt32LE(32)];
          const length = header.readUInt32LE(36);
          if (frames >= limits.maxFrames)
            throw frameError(
              'FERRY_ERR_TOO_LARGE',
              frames,
              `more than ${limits.maxFrames} frames in one body`,
            );
          if (status === undefined)
            throw frameError('FERRY_ERR_BAD_FORMAT', frames, `unknown status ${header.readUInt32LE(32)}`);
          if (status !== 'ok' && length !== 0)
            throw frameError('FERRY_ERR_BAD_FORMAT', frames, `a ${status} frame with ${length} bytes`);
          if (length > limits.maxBlob)
            throw frameError('FERRY_ERR_TOO_LARGE', frames, `${length} bytes, more than ${limits.maxBlob}`);
          total += length;
          if (total > limits.maxTotal)
            throw frameError('FERRY_ERR_TOO_LARGE', frames, `body holds more than ${limits.maxTotal} bytes`);
          frames++;
          current = {
            digest,
            status,
            blob: (await buffers?.take(length)) ?? Buffer.allocUnsafe(length),
            fill: 0,
          };
        } else {
          const n = Math.min(current.blob.length - current.fill, buf.length);
          buf.copy(current.blob, current.fill, 0, n);
          current.fill += n;
          buf = buf.subarray(n);
        }
        if (current !== undefined && current.fill === current.blob.length) {
          const done = current;
          current = undefined;
          yield { digest: done.digest, status: done.status, blob: done.blob };
        }
      }
    }
    if (current !== undefined || headerFill > 0) {
      const where = current === undefined ? 'its header' : `chunk ${shortDigest(current.digest)}`;
      throw new FerryError(
        'FERRY_ERR_TRUNCATED',
        `chunk stream ends inside frame ${frames - (current ? 1 : 0)} (${where})`,
        {
          fields: { frame: frames },
        },
      );
    }
  } finally {
    // A frame not yet complete is referenced by no one: its memory goes back (the stream failed or was abandoned).
    if (current !== undefined) buffers?.give(current.blob);
  }
}
