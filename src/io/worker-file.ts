import { existsSync } from 'node:fs';

/**
 * The file a worker pool loads for `workers/<name>.worker.*`, seen from the module at `from` (its import.meta.url:
 * two levels below the root, src/<layer>/ or dist/src/<layer>/, or a bundle in dist/workers/). Under tsx the
 * TypeScript source; from dist/ the bundle that workers/bundle.mjs writes (faster to start), or the compiled module
 * when there is no bundle.
 */
export function workerFile(name: string, from: string): URL {
  // Inside a bundle (the sync worker's own copy of this code), the bundles sit side by side.
  if (from.endsWith('.bundle.mjs')) return new URL(`./${name}.worker.bundle.mjs`, from);
  if (from.endsWith('.ts')) return new URL(`../../workers/${name}.worker.ts`, from);
  const bundle = new URL(`../../workers/${name}.worker.bundle.mjs`, from);
  return existsSync(bundle) ? bundle : new URL(`../../workers/${name}.worker.js`, from);
}
