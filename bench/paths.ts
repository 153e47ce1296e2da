import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: the nearest directory above this file with Ferry's package.json (works from bench/ and dist/bench/). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'ferry')
      return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the Ferry project root');
    dir = parent;
  }
}

export const PROJECT_ROOT = findRoot();
export const FERRY_BIN = join(PROJECT_ROOT, 'bin', 'ferry');
export const RESULTS_DIR = join(PROJECT_ROOT, 'bench', 'results');
