/**
 * Bundles each compiled worker (dist/workers/*.worker.js) into one file, `*.worker.bundle.mjs`, with esbuild.
 * A worker thread starts by importing its module graph: about 80 of Ferry's modules plus undici's and typebox's
 * hundreds of files. As one file that takes about half as long (measured: 4 sync workers ready in ~700 ms from
 * the module tree, ~380 ms from the bundle), which a sync job with many threads pays once per thread.
 *
 * Packages with native addons or files they load by path stay outside the bundle and load from node_modules:
 * lmdb, zstd-napi, @node-rs/crc32, fs-native-extensions (native), piscina and pino (they start threads from their
 * own files). src/io/worker-file.ts picks the bundle when it exists, else the plain compiled file (or the .ts
 * source under tsx).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const dir = new URL('../dist/workers/', import.meta.url).pathname;
const entries = readdirSync(dir).filter((name) => name.endsWith('.worker.js'));
if (entries.length === 0) throw new Error(`${dir}: no compiled workers (run tsc first)`);

await build({
  entryPoints: entries.map((name) => join(dir, name)),
  outdir: dir,
  outExtension: { '.js': '.bundle.mjs' },
  entryNames: '[name]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // Whitespace and comments out: the source of a bundle stays in every thread's heap (and one non-ASCII character in a
  // comment made V8 keep all of it as two-byte text: 3 MiB per thread).
  minifyWhitespace: true,
  external: ['lmdb', 'zstd-napi', '@node-rs/crc32', 'fs-native-extensions', 'piscina', 'pino'],
  // CommonJS code inside an ES module bundle still calls require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);",
  },
});
