import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';
import { writeFileAtomic } from './atomic-file.js';

/**
 * Loads a CommonJS bundle (a worker thread's code, dist/workers/*.worker.bundle.cjs) with V8's code cache: the bytecode
 * V8 compiled for it once, at build time, instead of parsing and compiling ~700 KB of source again in every thread.
 * Measured per sync thread (CPU, medians of 11): under bin/ferry's V8 flags ES module bundle 110 ms, this way 82 ms;
 * without them 208 ms, this bundle without the cache 131 ms (no ES module loader, and lmdb's single-file CommonJS
 * build), with it 99 ms.
 *
 * The cache (`<bundle>.v8cache`) starts with the SHA-256 of the source it was made from: V8 itself checks only its own
 * version, its flags and the source's length, and bytecode of another source of the same length would run as this
 * one. A cache that does not match, or that V8 rejects (another Node, other V8 flags: bin/ferry's `--max-opt=2` is
 * part of what it checks), is ignored and the source compiles as usual; nothing fails for want of a cache.
 * Node does not apply source maps to code compiled this way: stack traces from a worker thread point into the bundle
 * (its `.map` is beside it); run from the sources (tsx) for TypeScript lines.
 */
export function loadBundle(file: string): unknown {
  return runBundle(file).exports;
}

/** What became of a bundle's code cache when it was loaded. */
export type CodeCacheUse = 'used' | 'rejected by V8' | 'made for another source' | 'none';

/** loadBundle, also saying what became of the cache. */
export function runBundle(file: string): { exports: unknown; cache: CodeCacheUse } {
  const { exports, cache } = compileAndRun(file, readCache(file));
  return { exports, cache };
}

/** Compiles and runs `file` as loadBundle does, then writes its code cache (atomically) for the threads after it. */
export async function writeCodeCache(file: string): Promise<void> {
  const { script, source } = compileAndRun(file, undefined);
  await writeFileAtomic(cachePath(file), Buffer.concat([sourceHash(source), script.createCachedData()]), {
    syncDir: false,
  });
}

/**
 * The Node options bin/ferry runs the CLI with (its `exec node <options> "$entry"` line), given its text: the V8 flags
 * a code cache must be made under for the CLI's threads to take it.
 */
export function binFerryNodeOptions(script: string): string[] {
  const options = script
    .match(/exec node ((?:--\S+ )+)"\$entry"/)?.[1]
    ?.trim()
    .split(' ');
  if (!options) throw new Error('bin/ferry: no `exec node <options> "$entry"` line');
  return options;
}

const HASH_BYTES = 32;

function cachePath(file: string): string {
  return `${file}.v8cache`;
}

function sourceHash(source: Buffer): Buffer {
  return createHash('sha256').update(source).digest();
}

interface Loaded {
  script: Script;
  source: Buffer;
  exports: unknown;
  cache: CodeCacheUse;
}

function compileAndRun(file: string, cache: Buffer | undefined): Loaded {
  const source = readFileSync(file);
  const matches = cache !== undefined && sourceHash(source).equals(cache.subarray(0, HASH_BYTES));
  const cachedData = matches ? cache.subarray(HASH_BYTES) : undefined;
  // The same wrapper and arguments as Node's CommonJS loader gives a module.
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) { ${source.toString('utf8')}\n})`,
    { filename: file, ...(cachedData ? { cachedData } : {}) },
  );
  const use: CodeCacheUse =
    cache === undefined
      ? 'none'
      : !matches
        ? 'made for another source'
        : script.cachedDataRejected
          ? 'rejected by V8'
          : 'used';
  const module = { exports: {} as unknown };
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: { exports: unknown },
    filename: string,
    dirname: string,
  ) => void;
  wrapper(module.exports, createRequire(file), module, file, dirname(file));
  return { script, source, exports: module.exports, cache: use };
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(cachePath(file));
  } catch {
    return undefined; // no cache (a build without one, a read-only copy): compile from source
  }
}
