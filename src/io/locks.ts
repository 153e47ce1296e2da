import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../errors/index.js';

interface NativeLocks {
  tryLock(fd: number, opts: { shared: boolean }): boolean;
  unlock(fd: number): void;
}

// Open-file-description locks (fcntl F_OFD_SETLK on Linux, flock elsewhere): held per open file, so they work
// between threads of one process as well as between processes, and the kernel drops them when a process dies.
const native = createRequire(import.meta.url)('fs-native-extensions') as NativeLocks;

export type LockMode = 'exclusive' | 'shared';

export interface LockOptions {
  mode?: LockMode;
  /** Wait up to this long for the lock; 0 (the default) fails at once. */
  waitMs?: number;
  /** How the lock is named in the error: `group vm/100`. */
  what: string;
  signal?: AbortSignal;
}

/** A held lock. `release()` is idempotent. */
export class Lock {
  readonly path: string;
  private handle: FileHandle | undefined;

  constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.handle = handle;
  }

  get held(): boolean {
    return this.handle !== undefined;
  }

  async release(): Promise<void> {
    const fh = this.handle;
    this.handle = undefined;
    if (fh) await fh.close(); // closing the file description drops the lock
  }
}

/**
 * Takes a lock on the file at `path` (created if missing). Lock files are never deleted while in use; the
 * inode check after locking catches a file replaced between open and lock.
 */
export async function acquireLock(path: string, options: LockOptions): Promise<Lock> {
  const shared = options.mode === 'shared';
  const deadline = performance.now() + (options.waitMs ?? 0);
  await mkdir(dirname(path), { recursive: true });
  let delay = 5;
  for (;;) {
    const fh = await open(path, 'a+', 0o644);
    let locked = false;
    try {
      locked = native.tryLock(fh.fd, { shared });
      if (locked) {
        const [byFd, byPath] = await Promise.all([fh.stat(), stat(path).catch(() => undefined)]);
        if (byPath !== undefined && byFd.ino === byPath.ino) return new Lock(path, fh);
        locked = false; // replaced under us: try again with the new file
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    await fh.close();
    if (!locked && performance.now() >= deadline) {
      throw new FerryError('FERRY_ERR_LOCKED', `${options.what} is locked by another task`, {
        fields: { lock: path },
      });
    }
    options.signal?.throwIfAborted();
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}

/** Tries a lock without waiting; `undefined` when someone else holds it. */
export async function tryAcquireLock(path: string, mode: LockMode = 'exclusive'): Promise<Lock | undefined> {
  try {
    return await acquireLock(path, { mode, what: path });
  } catch (err) {
    if (err instanceof FerryError && err.code === 'FERRY_ERR_LOCKED') return undefined;
    throw err;
  }
}

export function unlockFd(fd: number): void {
  native.unlock(fd);
}

export function tryLockFd(fd: number, mode: LockMode): boolean {
  return native.tryLock(fd, { shared: mode === 'shared' });
}
