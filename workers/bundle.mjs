/**
 * Bundles each compiled worker (dist/workers/*.worker.js) into one file, `*.worker.bundle.mjs`, with esbuild, and the
 * CLI (dist/src/cli/bin.js) into dist/src/bundle/ferry.mjs, which bin/ferry runs.
 * A worker thread starts by importing its module graph: about 80 of Ferry's modules plus undici's and typebox's
 * hundreds of files. As one file that takes about half as long (measured: 4 sync workers ready in ~700 ms from
 * the module tree, ~300 ms from the bundle), which a sync job with many threads pays once per thread. The CLI is
 * the same story once per command: `ferry --version` 0.29 s from the module tree, 0.17 s from the bundle (and
 * ~8 MiB less RSS). The CLI bundle sits two levels below the root like the modules it replaces (dist/src/<dir>/), so
 * paths they resolve from import.meta.url (worker files, package.json, native addons) stay right; code it loads
 * only on demand (the server) is split into a chunk beside it.
 *
 * Packages with native addons or files they load by path stay outside the bundle and load from node_modules:
 * lmdb, zstd-napi, @node-rs/crc32, fs-native-extensions (native), piscina and pino (they start threads from their
 * own files). src/io/worker-file.ts picks the bundle when it exists, else the plain compiled file (or the .ts
 * source under tsx).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const dir = new URL('../dist/workers/', import.meta.url).pathname;
const entries = readdirSync(dir).filter((name) => name.endsWith('.worker.js'));
if (entries.length === 0) throw new Error(`${dir}: no compiled workers (run tsc first)`);

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  // Stack traces need only the mappings (Node parses every map at load under --enable-source-maps): the sources
  // themselves would cost each thread megabytes.
  sourcesContent: false,
  logLevel: 'warning',
  // Whitespace and comments out: the source of a bundle stays in every thread's heap (and one non-ASCII character in a
  // comment made V8 keep all of it as two-byte text: 3 MiB per thread).
  minifyWhitespace: true,
  external: ['lmdb', 'zstd-napi', '@node-rs/crc32', 'fs-native-extensions', 'piscina', 'pino'],
  // CommonJS code inside an ES module bundle still calls require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);",
  },
};

await build({
  ...common,
  entryPoints: entries.map((name) => join(dir, name)),
  outdir: dir,
  outExtension: { '.js': '.bundle.mjs' },
  entryNames: '[name]',
});

// fastify (and its plugins), selfsigned and pino-pretty stay in node_modules: large, and some load files by path. The
// server's own code, which the CLI imports only for `serve`, is split into a chunk beside the bundle.
const cliDir = new URL('../dist/src/bundle/', import.meta.url).pathname;
rmSync(cliDir, { recursive: true, force: true }); // chunk names change with their content: no stale ones
await build({
  ...common,
  entryPoints: { ferry: new URL('../dist/src/cli/bin.js', import.meta.url).pathname },
  outdir: cliDir,
  outExtension: { '.js': '.mjs' },
  splitting: true,
  chunkNames: '[name]-[hash]',
  external: [...common.external, 'pino-pretty', 'fastify', '@fastify/*', 'selfsigned'],
});
