import { FerryError } from '../errors/index.js';
import type { BufferSource, ChunkBuffers } from '../io/index.js';
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

/** A frame whose header has been read: its blob is filled as its bytes arrive. */
interface OpenFrame {
  digest: Digest;
  status: FrameStatus;
  length: number;
  /** undefined until memory for it is provided (`wants`). */
  blob: Buffer | undefined;
  fill: number;
}

const NO_BYTES = Buffer.alloc(0);

/**
 * The frame codec's reading half, as a synchronous state machine: feed it bytes in pieces of any size and it hands
 * back whole frames, checking each header against `limits` before reading its bytes (a hostile length never
 * allocates). It never allocates blob memory itself: when a frame needs some it stops and says how much (`wants`),
 * so each caller decides how to wait for memory. Two drivers use it: readChunkFrames (an async generator over a
 * stream, paced by its consumer) and ChunkFrameSink (pushed pieces, for a response body read in flowing mode).
 */
export class ChunkFrameDecoder {
  private readonly limits: FrameLimits;
  private readonly header = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  private headerFill = 0;
  private current: OpenFrame | undefined;
  private done: ChunkFrame | undefined;
  private frames = 0;
  private total = 0;

  constructor(limits: FrameLimits) {
    this.limits = limits;
  }

  /** Bytes of memory the frame under way needs (`provide`) before `feed` can go on; undefined if none. */
  get wants(): number | undefined {
    const current = this.current;
    return current !== undefined && current.blob === undefined ? current.length : undefined;
  }

  /** Memory of exactly `wants` bytes for the frame under way. */
  provide(blob: Buffer): void {
    const current = this.current;
    if (current === undefined || current.blob !== undefined || blob.length !== current.length)
      throw new Error('chunk frame decoder: memory provided that no frame asked for');
    current.blob = blob;
    this.complete();
  }

  /**
   * Reads `piece` from `at` until it ends, a frame is complete (`takeFrame`) or a frame needs memory (`wants`);
   * returns the offset it got to. Throws a typed error on a header that breaks the format or the limits.
   */
  feed(piece: Buffer, at: number): number {
    let pos = at;
    while (pos < piece.length && this.done === undefined) {
      const current = this.current;
      if (current === undefined) {
        const n = Math.min(FRAME_HEADER_SIZE - this.headerFill, piece.length - pos);
        piece.copy(this.header, this.headerFill, pos, pos + n);
        this.headerFill += n;
        pos += n;
        if (this.headerFill < FRAME_HEADER_SIZE) break;
        this.headerFill = 0;
        this.openFrame();
      } else if (current.blob === undefined) {
        break; // it wants memory first
      } else {
        const n = Math.min(current.length - current.fill, piece.length - pos);
        piece.copy(current.blob, current.fill, pos, pos + n);
        current.fill += n;
        pos += n;
        this.complete();
      }
    }
    return pos;
  }

  /** The frame `feed` completed, once. */
  takeFrame(): ChunkFrame | undefined {
    const frame = this.done;
    this.done = undefined;
    return frame;
  }

  /** The bytes have ended: throws FERRY_ERR_TRUNCATED if they ended inside a frame. */
  finish(): void {
    if (this.current === undefined && this.headerFill === 0) return;
    const where = this.current === undefined ? 'its header' : `chunk ${shortDigest(this.current.digest)}`;
    const index = this.frames - (this.current ? 1 : 0);
    throw new FerryError('FERRY_ERR_TRUNCATED', `chunk stream ends inside frame ${index} (${where})`, {
      fields: { frame: this.frames },
    });
  }

  /** Drops the frame under way and returns its memory, if it had any (the stream failed or was abandoned). */
  abandon(): Buffer | undefined {
    const blob = this.current?.blob;
    this.current = undefined;
    return blob;
  }

  private openFrame(): void {
    const { header, limits, frames } = this;
    const digest = digestFromBytes(header.subarray(0, 32));
    const status = STATUS_NAMES[header.readUInt32LE(32)];
    const length = header.readUInt32LE(36);
    if (frames >= limits.maxFrames)
      throw frameError('FERRY_ERR_TOO_LARGE', frames, `more than ${limits.maxFrames} frames in one body`);
    if (status === undefined)
      throw frameError('FERRY_ERR_BAD_FORMAT', frames, `unknown status ${header.readUInt32LE(32)}`);
    if (status !== 'ok' && length !== 0)
      throw frameError('FERRY_ERR_BAD_FORMAT', frames, `a ${status} frame with ${length} bytes`);
    if (length > limits.maxBlob)
      throw frameError('FERRY_ERR_TOO_LARGE', frames, `${length} bytes, more than ${limits.maxBlob}`);
    this.total += length;
    if (this.total > limits.maxTotal)
      throw frameError('FERRY_ERR_TOO_LARGE', frames, `body holds more than ${limits.maxTotal} bytes`);
    this.frames++;
    this.current = { digest, status, length, blob: length === 0 ? NO_BYTES : undefined, fill: 0 };
    this.complete();
  }

  private complete(): void {
    const current = this.current;
    if (current?.blob === undefined || current.fill < current.length) return;
    this.current = undefined;
    this.done = { digest: current.digest, status: current.status, blob: current.blob };
  }
}

/**
 * Reads frames from a byte stream as they complete, holding at most one frame in memory. The consumer's pace is the
 * stream's pace: the next piece is read only after the consumer asks for the next frame. With `buffers`, blob memory
 * comes from there (ChunkBuffers: bounded, reading waits for a free buffer; BufferRecycler: reused, never waits), and
 * the consumer settles each large blob (`give`, or ChunkBuffers' `release`).
 */
export async function* readChunkFrames(
  source: AsyncIterable<Uint8Array>,
  limits: FrameLimits,
  buffers?: BufferSource,
): AsyncGenerator<ChunkFrame> {
  const decoder = new ChunkFrameDecoder(limits);
  try {
    for await (const piece of source) {
      const buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      let at = 0;
      do {
        at = decoder.feed(buf, at);
        const wants = decoder.wants;
        if (wants !== undefined) decoder.provide((await buffers?.take(wants)) ?? Buffer.allocUnsafe(wants));
        const frame = decoder.takeFrame();
        if (frame !== undefined) yield frame;
      } while (at < buf.length);
    }
    decoder.finish();
  } finally {
    const blob = decoder.abandon();
    if (blob !== undefined) buffers?.give(blob);
  }
}

/**
 * Reads frames from pieces pushed to it, as a response body read in flowing mode delivers them (Readable's async
 * iterator, which readChunkFrames needs, cost twice the CPU of the rest of receiving a body: ~45 µs per 64 KiB
 * piece here). `push` returns undefined when it is done with the piece at once (the common case: bytes copied into
 * the frame under way) and a promise when it must wait, for blob memory or for `onFrame`'s promise; the caller
 * pushes nothing more until that settles (it pauses the body), so the consumer still sets the pace.
 */
export class ChunkFrameSink {
  private readonly decoder: ChunkFrameDecoder;
  private readonly buffers: ChunkBuffers;
  private readonly onFrame: (frame: ChunkFrame) => Promise<void> | undefined;

  /** `onFrame` returns a promise when it is not done with the frame at once; pushing waits for it. */
  constructor(
    limits: FrameLimits,
    buffers: ChunkBuffers,
    onFrame: (frame: ChunkFrame) => Promise<void> | undefined,
  ) {
    this.decoder = new ChunkFrameDecoder(limits);
    this.buffers = buffers;
    this.onFrame = onFrame;
  }

  push(piece: Buffer, from = 0): Promise<void> | undefined {
    let at = from;
    do {
      at = this.decoder.feed(piece, at);
      const wants = this.decoder.wants;
      if (wants !== undefined) {
        const blob = this.buffers.tryTake(wants);
        if (blob === undefined) {
          return this.buffers.take(wants).then((taken) => {
            this.decoder.provide(taken);
            return this.push(piece, at);
          });
        }
        this.decoder.provide(blob);
      }
      const frame = this.decoder.takeFrame();
      if (frame !== undefined) {
        const consumed = this.onFrame(frame);
        if (consumed !== undefined) return consumed.then(() => this.push(piece, at));
      }
    } while (at < piece.length);
    return undefined;
  }

  /** The body has ended: throws FERRY_ERR_TRUNCATED if it ended inside a frame. */
  end(): void {
    this.decoder.finish();
  }

  /** Gives back the memory of a frame not yet complete (the body failed, or the consumer did). */
  abandon(): void {
    const blob = this.decoder.abandon();
    if (blob !== undefined) this.buffers.give(blob);
  }
}
