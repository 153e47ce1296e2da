import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, statfs, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { allocAligned, isDirectUnsupported } from '../src/io/index.js';

/** The middle value (the upper one of the two middles for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Bytes of all regular files under `dir`. */
export async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}

/**
 * Leaves `bytes` of just-freed page-cache memory behind (writes a scratch file of that size in `dir`, unflushed,
 * and deletes it), so the timed run after it writes into memory the guest has just used. On a virtual machine that
 * hands freed memory back to its host (virtio-balloon free page reporting, as here), memory the guest has not used
 * for a few seconds must be faulted in from the host again, and a buffered write into it costs several times a
 * write into recycled pages; without this, a peer that writes through the page cache (cp, rclone) would be timed
 * on whatever the run before it left behind. Every timed run, Ferry's and the peer's, starts after this.
 */
export async function recyclePages(dir: string, bytes: number): Promise<void> {
  const path = join(dir, `recycle-${process.pid}.tmp`);
  const block = Buffer.alloc(4 * 1024 * 1024, 0x5a);
  const fh = await open(path, 'w');
  try {
    for (let done = 0; done < bytes; done += block.length) await fh.write(block, 0, block.length, done);
  } finally {
    await fh.close();
    await unlink(path);
  }
}

/**
 * How fast this disk takes `bytes` written the way Ferry writes chunk files (O_DIRECT, from page-aligned memory,
 * 4 MiB at a time) with none of the work around them: one file, sequential, synced once at the end, then deleted.
 * A run that must write `bytes` to this disk can go no faster than this, whatever its CPU does. Falls back to
 * buffered writes where the file system refuses O_DIRECT (`direct` says which).
 */
export async function diskWriteRate(
  dir: string,
  bytes: number,
): Promise<{ mibPerSecond: number; direct: boolean }> {
  const block = allocAligned(4 * 1024 * 1024);
  randomFillSync(block); // incompressible, should the device or file system compress
  const path = join(dir, `disk-rate-${process.pid}.tmp`);
  const timed = async (direct: boolean) => {
    const flags =
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (direct ? constants.O_DIRECT : 0);
    const fh = await open(path, flags);
    try {
      let written = 0;
      const started = performance.now();
      while (written < bytes) written += (await fh.write(block, 0, block.length, written)).bytesWritten;
      await fh.sync();
      return { mibPerSecond: written / 2 ** 20 / ((performance.now() - started) / 1000), direct };
    } finally {
      await fh.close();
      await unlink(path);
    }
  };
  try {
    return await timed(true);
  } catch (err) {
    if (!isDirectUnsupported(err)) throw err;
    return timed(false);
  }
}

/**
 * Writes out all dirty page-cache data (`sync`), so a run's deferred writeback does not land inside a later timed
 * run. Linux writes dirty pages back ~30 s after they were written (vm.dirty_expire_centisecs): the 450 MiB that each
 * rclone run leaves dirty (rclone does not fsync) was flushed during Ferry's pulls half a minute later, whose chunk
 * fsyncs then queued behind it (a 4-thread pull at 50 ms: 180-189 MiB/s, 150-160 while 450 MiB of an earlier rclone
 * copy was written back); likewise the 1 GiB image the ingest scenario writes just before its rounds.
 * Untimed, except where a peer's time includes it on purpose (cp -a + sync in migration).
 */
export async function flushDirty(): Promise<void> {
  await runCommand('sync', []);
}

/**
 * Runs `command` to its end (its stderr shown, its stdout too unless `quiet`); throws naming it if it fails or
 * exits non-zero.
 */
export async function runCommand(command: string, args: readonly string[], quiet = false): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((done, fail) => {
    child.on('error', fail);
    child.on('close', done);
  });
  if (code !== 0) throw new Error(`${[command, ...args.slice(0, 1)].join(' ')} exited ${code}`);
}

// Below this much free space, setAside deletes at once (a full sync-latency run sets aside ~30 GiB).
const SET_ASIDE_MIN_FREE = 40 * 1024 ** 3;
let setAsideCount = 0;

/**
 * Moves a finished run's output (a target datastore, a peer's copy) out of the way, into `.set-aside/` beside it,
 * instead of deleting it; the scenario's final cleanup removes it with the rest of its temp directory. Deleting it
 * here would make the next timed run pay for it: on a file system without a journal (this machine's ext4), ext4
 * will not reuse an inode freed in the last minute (six while its inode table block is unwritten), and checks each
 * such inode again at every allocation in its group, so after a delete of the last run's few hundred files each
 * file and directory the next run created cost ~0.9 ms of system time (perf: `recently_deleted` under
 * `__ext4_new_inode`). Ferry's runs and the peers' are treated alike. With less free space than `minFree`, deletes.
 */
export async function setAside(path: string, minFree = SET_ASIDE_MIN_FREE): Promise<void> {
  const { bavail, bsize } = await statfs(dirname(path));
  if (bavail * bsize < minFree) {
    await rm(path, { recursive: true, force: true });
    return;
  }
  const dir = join(dirname(path), '.set-aside');
  await mkdir(dir, { recursive: true });
  try {
    await rename(path, join(dir, `${basename(path)}-${++setAsideCount}`));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
