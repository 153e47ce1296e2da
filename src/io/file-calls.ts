import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { isMainThread } from 'node:worker_threads';

/**
 * File calls by descriptor for the chunk write path, and the rule for the ones that do not wait on the device.
 *
 * Node makes every asynchronous file call in libuv's thread pool (UV_THREADPOOL_SIZE threads, first come, first
 * served, one pool per process). Storing chunks fills that pool with O_DIRECT writes and fsyncs, which take
 * 16–28 ms each on the project machine, and each open, close or rename of a chunk's files queued behind them: a
 * chunk makes up to nine such calls (its tail's write is one), one after another, so most of a chunk's store time
 * was waiting for a pool thread to do a few microseconds of work. Off the main thread (the chunk and sync worker
 * threads, which store chunks), those calls are made directly on the calling thread instead; a thread then stalls
 * for microseconds, not a queue. The main thread (a server's event loop, a coordinator) keeps them asynchronous:
 * nothing may stop it. Side by side in one process (2026-11-29, medians, ahead in every round): backup of a 1 GiB
 * image, 2 threads, 606 → 669 MiB/s (8 rounds); a local migration of 670 MiB, 2 threads, 3.0 → 2.75 s (6 rounds);
 * a 4-thread pull at 50 ms alike (152 vs 154 MiB/s: there the other threads fill the waits). A chunk read's open,
 * fstat and close made the same way gained nothing measurable on top (migration 2.60 vs 2.69 s), so reads stay as
 * they are.
 */

/**
 * Whether this thread still makes the cheap calls itself: it times them, and where most of them are not cheap after
 * all (a network file system, metadata the kernel must read from a busy device) it gives them back to the pool for
 * the rest of its life, so it does not stall its other chunks on every call. A call is slow past SLOW_MS (local
 * ext4: 5–100 µs); a few slow ones (the thread preempted mid-call on a busy machine) change nothing, while most of
 * the recent ones being slow does (a moving share of slow calls over about the last 16 calls, past 3/4). On the
 * project machine 10–12 % of a backup's calls and 2–4 % of a 4-thread pull's took over 0.5 ms, and no thread turned
 * them off.
 */
export class DirectCalls {
  static readonly SLOW_MS = 0.5;
  private slowShare = 0;
  enabled: boolean;

  constructor(enabled: boolean) {
    this.enabled = enabled;
  }

  /** Runs `call` on this thread, timed. */
  run<T>(call: () => T): T {
    const started = performance.now();
    try {
      return call();
    } finally {
      this.record(performance.now() - started);
    }
  }

  /** Counts one call that took `ms`. */
  record(ms: number): void {
    this.slowShare += ((ms > DirectCalls.SLOW_MS ? 1 : 0) - this.slowShare) / 16;
    if (this.slowShare > 0.75) this.enabled = false;
  }
}

const direct = new DirectCalls(!isMainThread);

const openAsync = promisify(fs.open);
const closeAsync = promisify(fs.close);

/** Reads and writes by descriptor (through libuv: these wait on the device). */
export const readAt = promisify(fs.read);
export const writeAt = promisify(fs.write);
export const fsyncFd = promisify(fs.fsync);

/** Opens `path`: on the calling thread off the main thread (no device wait: creating or opening a file). */
export async function openFd(path: string, flags: number, mode?: number): Promise<number> {
  return direct.enabled ? direct.run(() => fs.openSync(path, flags, mode)) : openAsync(path, flags, mode);
}

/** Closes `fd` (of a file written with O_DIRECT or fsynced already: nothing left to flush). */
export async function closeFd(fd: number): Promise<void> {
  if (direct.enabled) direct.run(() => fs.closeSync(fd));
  else await closeAsync(fd);
}

/** Renames within one directory tree (metadata only). */
export async function renamePath(from: string, to: string): Promise<void> {
  if (direct.enabled) direct.run(() => fs.renameSync(from, to));
  else await fs.promises.rename(from, to);
}

/** Writes less than a block at `position` through the page cache (no device wait): a file's tail. */
export async function writeSmall(fd: number, data: Uint8Array, position: number): Promise<number> {
  if (direct.enabled) return direct.run(() => fs.writeSync(fd, data, 0, data.length, position));
  return (await writeAt(fd, data, 0, data.length, position)).bytesWritten;
}

/** Makes `dir` and its parents where missing (a chunk's prefix directory: there already, as a rule). */
export async function makeDirs(dir: string): Promise<void> {
  if (direct.enabled) direct.run(() => fs.mkdirSync(dir, { recursive: true }));
  else await fs.promises.mkdir(dir, { recursive: true });
}
