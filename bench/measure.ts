import { open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

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
