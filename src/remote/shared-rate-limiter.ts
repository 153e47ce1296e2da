import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../errors/index.js';
import { type Clock, SYSTEM_CLOCK } from '../model/index.js';

export interface RateLimit {
  /** Bytes per second. */
  rate: number;
  /** Bytes that may pass at once after a quiet spell; default: one second's worth. */
  burst?: number;
}

const TAT = 0;
const RATE = 1;
const BURST = 2;
const SLOTS = 3;

/**
 * A token bucket (in its GCRA form) whose whole state is one SharedArrayBuffer, so a coordinator can create it and
 * hand `buffer` to piscina workers: every client in every thread then draws from the same budget (PBS shares one
 * limiter between all connections of a job).
 *
 * State: the "theoretical arrival time" (ns since the epoch) of the next byte, updated with a compare-and-swap
 * loop: taking n bytes moves it n/rate seconds later, and the caller waits until it is at most burst/rate seconds
 * ahead of now. A take larger than the burst simply waits longer; nothing is ever refused.
 */
export class SharedRateLimiter {
  readonly buffer: SharedArrayBuffer;
  private readonly state: BigInt64Array;
  private readonly clock: Clock;

  private constructor(buffer: SharedArrayBuffer, clock: Clock) {
    this.buffer = buffer;
    this.state = new BigInt64Array(buffer);
    this.clock = clock;
  }

  static create(limit: RateLimit, options: { clock?: Clock } = {}): SharedRateLimiter {
    const rate = Math.floor(limit.rate);
    const burst = Math.floor(limit.burst ?? limit.rate);
    if (!(rate >= 1) || !(burst >= 1)) {
      throw new FerryError(
        'FERRY_ERR_INVALID_VALUE',
        `invalid rate limit ${limit.rate} B/s, burst ${limit.burst}: both must be at least 1`,
      );
    }
    const limiter = new SharedRateLimiter(new SharedArrayBuffer(SLOTS * 8), options.clock ?? SYSTEM_CLOCK);
    limiter.state[RATE] = BigInt(rate);
    limiter.state[BURST] = BigInt(burst);
    return limiter;
  }

  /** Attaches to a limiter made by `create` in another thread. */
  static fromBuffer(buffer: SharedArrayBuffer, options: { clock?: Clock } = {}): SharedRateLimiter {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== SLOTS * 8) {
      throw new FerryError('FERRY_ERR_INVALID_VALUE', 'not a rate limiter buffer');
    }
    return new SharedRateLimiter(buffer, options.clock ?? SYSTEM_CLOCK);
  }

  get rate(): number {
    return Number(Atomics.load(this.state, RATE));
  }

  get burst(): number {
    return Number(Atomics.load(this.state, BURST));
  }

  /** Books `bytes` against the budget; returns how many milliseconds the caller must wait before they pass. */
  reserve(bytes: number): number {
    const rate = this.rate;
    // Nanoseconds, not microseconds: a body arrives in pieces as small as a 40-byte frame header, and at 1 GB/s a
    // cost rounded to whole microseconds let every piece under 500 bytes through free.
    const nsPerByte = 1e9 / rate;
    const tolerance = BigInt(Math.round(this.burst * nsPerByte));
    const cost = BigInt(Math.round(bytes * nsPerByte));
    for (;;) {
      const now = BigInt(Math.round(this.clock.now() * 1e6));
      const old = Atomics.load(this.state, TAT);
      const next = (old > now ? old : now) + cost;
      if (Atomics.compareExchange(this.state, TAT, old, next) === old) {
        const waitNs = next - tolerance - now;
        return waitNs > 0n ? Number(waitNs) / 1e6 : 0;
      }
    }
  }

  /** Waits until `bytes` may pass. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    await this.pace(bytes, signal);
  }

  /**
   * Books `bytes`; undefined when they may pass now, else a promise that resolves once they may. For callers that
   * take per piece of a stream and would otherwise pay a promise (and a paused stream) for every piece.
   */
  pace(bytes: number, signal?: AbortSignal): Promise<void> | undefined {
    if (bytes <= 0) return undefined;
    const waitMs = this.reserve(bytes);
    if (waitMs < 1) return undefined;
    return sleep(Math.ceil(waitMs), undefined, signal ? { signal } : {});
  }
}
