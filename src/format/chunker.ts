import { createHash } from 'node:crypto';

/**
 * Content-defined chunking for dynamic archives: a gear rolling hash with FastCDC's normalised chunking. A boundary
 * is declared where the hash has a run of zero bits: a harder mask before the average size, an easier one after it,
 * never before `min` and always at `max`. Identical content produces identical boundaries wherever it sits in the
 * stream, so an insertion changes only the chunks around it.
 */
export interface ChunkerOptions {
  min: number;
  avg: number;
  max: number;
}

export const DYNAMIC_CHUNKING: ChunkerOptions = {
  min: 1024 * 1024,
  avg: 4 * 1024 * 1024,
  max: 16 * 1024 * 1024,
};

const GEAR = (() => {
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++)
    table[i] = createHash('sha256').update(`ferry gear ${i}`).digest().readInt32LE(0);
  return table;
})();

/** A mask with `bits` one-bits spread over the high half of 32 bits and below (higher bits see more bytes). */
function maskOf(bits: number): number {
  let mask = 0;
  for (let i = 0; i < bits; i++) mask |= 1 << (31 - i);
  return mask | 0;
}

export class Chunker {
  private readonly min: number;
  private readonly avg: number;
  private readonly max: number;
  private readonly maskHard: number;
  private readonly maskEasy: number;
  private hash = 0;
  /** Bytes since the last boundary. */
  private position = 0;

  constructor(options: ChunkerOptions = DYNAMIC_CHUNKING) {
    if (!(options.min > 64 && options.min <= options.avg && options.avg <= options.max)) {
      throw new RangeError(`bad chunker sizes ${JSON.stringify(options)}`);
    }
    this.min = options.min;
    this.avg = options.avg;
    this.max = options.max;
    const bits = Math.round(Math.log2(options.avg));
    this.maskHard = maskOf(bits + 2);
    this.maskEasy = maskOf(bits - 2);
  }

  /**
   * Feeds the next bytes of the stream; returns the offsets in `data` where a chunk ends (exclusive). State carries
   * over to the next call; the caller ends the last chunk at the end of the stream.
   */
  scan(data: Uint8Array): number[] {
    const cuts: number[] = [];
    const gear = GEAR;
    const len = data.length;
    let h = this.hash;
    let pos = this.position;
    let i = 0;
    while (i < len) {
      // Skip what cannot hold a boundary, keeping 64 bytes of hash warm-up before `min`.
      if (pos < this.min - 64) {
        const skip = Math.min(this.min - 64 - pos, len - i);
        i += skip;
        pos += skip;
        h = 0;
        continue;
      }
      const beforeAvg = pos < this.avg;
      const end = Math.min(len, i + (beforeAvg ? this.avg : this.max) - pos);
      const mask = beforeAvg ? this.maskHard : this.maskEasy;
      // The first index whose byte makes the chunk at least `min` long.
      const firstAllowed = i + Math.max(0, this.min - pos - 1);
      const start = i;
      let cut = -1;
      for (; i < end; i++) {
        h = ((h << 1) + (gear[data[i] as number] as number)) | 0;
        if ((h & mask) === 0 && i >= firstAllowed) {
          cut = i + 1;
          break;
        }
      }
      if (cut >= 0) {
        cuts.push(cut);
        pos = 0;
        h = 0;
        i = cut;
        continue;
      }
      pos += end - start;
      if (pos >= this.max) {
        cuts.push(end);
        pos = 0;
        h = 0;
      }
    }
    this.hash = h;
    this.position = pos;
    return cuts;
  }
}
