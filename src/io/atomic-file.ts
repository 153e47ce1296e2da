import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, link, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { closeFd, fsyncFd, openFd } from './file-calls.js';

/** A temp-file name beside `path`, unique across processes and threads: `<name>.tmp.<pid>.<thread>.<random>`. */
export function tmpPathFor(path: string): string {
  return join(
    dirname(path),
    `${basename(path)}.tmp.${process.pid}.${threadId}.${randomBytes(4).toString('hex')}`,
  );
}

export function isTmpName(name: string): boolean {
  return /\.tmp\.\d+\.\d+\.[0-9a-f]{8}$/.test(name) || name.endsWith('.tmp');
}

async function writeAll(fh: FileHandle, parts: readonly Uint8Array[]): Promise<void> {
  let pending = parts.filter((p) => p.length > 0);
  while (pending.length > 0) {
    let { bytesWritten } = await fh.writev(pending);
    const rest: Uint8Array[] = [];
    for (const p of pending) {
      if (bytesWritten >= p.length) bytesWritten -= p.length;
      else {
        rest.push(p.subarray(bytesWritten));
        bytesWritten = 0;
      }
    }
    pending = rest;
  }
}

/** Makes a directory's entries (a rename or a new file in it) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await openFd(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}

/**
 * Writes `data` (one buffer, or pieces written with one writev) to a temp file beside `path`, fsynced; returns its
 * path. `onWritten` is called once `data` is no longer read (before the fsync).
 */
export async function writeTmp(
  path: string,
  data: Uint8Array | readonly Uint8Array[],
  mode = 0o644,
  onWritten?: () => void,
): Promise<string> {
  const tmp = tmpPathFor(path);
  const fh = await open(tmp, 'wx', mode);
  try {
    if (data instanceof Uint8Array) await fh.writeFile(data);
    else await writeAll(fh, data);
    onWritten?.();
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  return tmp;
}

/**
 * Atomic replace: temp file, fsync, rename over `path`, fsync the directory. Readers see the old or the new
 * content, never a mix, and a crash leaves at worst a temp file. `mode` (default 0644) is set when the temp file
 * is created, so a secret file (0600) is never readable by others, not even for an instant.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array,
  options: { syncDir?: boolean; mode?: number } = {},
): Promise<void> {
  const tmp = await writeTmp(path, data, options.mode);
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (options.syncDir !== false) await fsyncDir(dirname(path));
}

/** Atomic create: like writeFileAtomic but fails with EEXIST if `path` exists (link(2) does not replace). */
export async function createFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = await writeTmp(path, data);
  try {
    await link(tmp, path);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await fsyncDir(dirname(path));
}

export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}
