import { FerryError } from '../errors/index.js';
import type { ChunkBuffers } from '../io/index.js';
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

/**
 * Reads frames from a byte stream as they complete, holding at most one frame in memory. Checks each header against
 * `limits` before reading its bytes, so a hostile length never allocates. The consumer's pace is the stream's pace:
 * the next piece is read only after the consumer asks for the next frame. With `buffers`, blob memory comes from there
 * (bounded: reading waits for a free buffer), and the consumer settles each large blob with `give` or `release`.
 */
export async function* readChunkFrames(
  source: AsyncIterable<Uint8Array>,
  limits: FrameLimits,
  buffers?: ChunkBuffers,
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
