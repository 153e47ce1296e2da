import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface TreeEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  size?: number;
  sha256?: string;
  target?: string;
}

/** A comparable description of a directory tree: types, modes, contents (hashed) and link targets. */
export async function describeTree(root: string, rel = ''): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = rel === '' ? name : `${rel}/${name}`;
    const st = await lstat(join(root, path));
    const mode = st.mode & 0o7777;
    if (st.isSymbolicLink())
      out.push({ path, type: 'symlink', mode: 0, target: await readlink(join(root, path)) });
    else if (st.isDirectory()) {
      out.push({ path, type: 'dir', mode });
      out.push(...(await describeTree(root, path)));
    } else {
      const data = await readFile(join(root, path));
      out.push({
        path,
        type: 'file',
        mode,
        size: data.length,
        sha256: createHash('sha256').update(data).digest('hex'),
      });
    }
  }
  return out;
}
