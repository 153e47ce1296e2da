import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { acquireLock, readdirOrEmpty, tryAcquireLock } from '../io/index.js';
import type { Clock } from '../model/index.js';

export interface WriterRegistration {
  /** When the writer started (ms since the epoch): every chunk it touches has lastUsed ≥ start. */
  readonly start: number;
  release(): Promise<void>;
}

/**
 * Live writers (backups, pulls) announce themselves with a locked file `.ferry/locks/writers/<start>-…lck`.
 * GC lowers its cutoff to the oldest live writer's start, so a chunk a writer reused or wrote, but whose snapshot is
 * not published yet, is never swept. A writer that died leaves an unlocked file, which GC removes.
 */
export class WriterRegistry {
  private readonly dir: string;
  private readonly clock: Clock;

  constructor(dir: string, clock: Clock) {
    this.dir = dir;
    this.clock = clock;
  }

  async register(): Promise<WriterRegistration> {
    const start = this.clock.now();
    const path = join(this.dir, `${start}-${process.pid}-${threadId}-${randomBytes(4).toString('hex')}.lck`);
    const lock = await acquireLock(path, { what: 'writer registration' });
    return {
      start,
      release: async () => {
        await unlink(path).catch(() => undefined);
        await lock.release();
      },
    };
  }

  /** The start of the oldest live writer, or undefined; removes files of dead writers on the way. */
  async oldestActiveStart(): Promise<number | undefined> {
    let oldest: number | undefined;
    for (const name of await readdirOrEmpty(this.dir)) {
      const m = /^(\d+)-/.exec(name);
      if (!m) continue;
      const path = join(this.dir, name);
      const probe = await tryAcquireLock(path);
      if (probe) {
        await unlink(path).catch(() => undefined);
        await probe.release();
        continue;
      }
      const start = Number(m[1]);
      if (oldest === undefined || start < oldest) oldest = start;
    }
    return oldest;
  }
}
