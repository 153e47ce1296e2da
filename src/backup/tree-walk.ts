import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export interface TreeCaches {
  /** Absolute path → lstat result, with atime and ctime removed. */
  statCache: Map<string, Stats>;
  /** Absolute directory path → entry names in sorted order. */
  readdirCache: Map<string, string[]>;
}

/**
 * Walks a tree once for the tar writer. Two things make repeated backups of an unchanged tree produce the same
 * bytes, so they deduplicate: entries come in sorted order (readdir order depends on the file system), and access
 * and change times are dropped (reading a file for a backup moves its atime, and neither can be restored anyway).
 */
export async function walkTree(root: string): Promise<TreeCaches> {
  const statCache = new Map<string, Stats>();
  const readdirCache = new Map<string, string[]>();
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path);
    const stable = Object.assign(Object.create(Object.getPrototypeOf(st) as object) as Stats, st, {
      atime: undefined,
      ctime: undefined,
    });
    statCache.set(path, stable);
    if (!st.isDirectory()) return;
    const names = (await readdir(path)).sort();
    readdirCache.set(path, names);
    for (const name of names) await visit(join(path, name));
  };
  await visit(resolve(root));
  return { statCache, readdirCache };
}
