import { existsSync } from 'node:fs';

/**
 * The file a worker pool loads for `workers/<name>.worker.*`, seen from the module at `from` (its import.meta.url:
 * two levels below the root, src/<layer>/ or dist/src/<layer>/, or a bundle in dist/workers/). Under tsx the
 * TypeScript source; from dist/ the entry that workers/bundle.mjs writes, which loads the worker's bundle with its
 * code cache (src/io/code-cache.ts: a quarter less CPU to start than an ES module bundle), or the compiled module
 * when there is none.
 */
export function workerFile(name: string, from: string): URL {
  // Inside a bundle (the sync worker's own copy of this code), the entries sit beside it.
  if (from.endsWith('.bundle.cjs')) return new URL(`./${name}.worker.entry.cjs`, from);
  if (from.endsWith('.ts')) return new URL(`../../workers/${name}.worker.ts`, from);
  const entry = new URL(`../../workers/${name}.worker.entry.cjs`, from);
  return existsSync(entry) ? entry : new URL(`../../workers/${name}.worker.js`, from);
}
