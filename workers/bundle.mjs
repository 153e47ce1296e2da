/**
 * Bundles each compiled worker (dist/workers/*.worker.js) into one CommonJS file, `*.worker.bundle.cjs`, with esbuild,
 * writes the small entry a worker pool loads (`*.worker.entry.cjs`: it runs the bundle with V8's code cache, see
 * src/io/code-cache.ts) and makes that cache; and bundles the CLI (dist/src/cli/bin.js) into
 * dist/src/bundle/ferry.mjs, which bin/ferry runs.
 * A worker thread starts by loading its module graph: about 80 of Ferry's modules plus undici's and typebox's
 * hundreds of files. As one file that takes about half as long (measured: 4 sync workers ready in ~700 ms from
 * the module tree, ~300 ms from the bundle), which a sync job with many threads pays once per thread; as a CommonJS
 * file with its code cache, half again (CPU per sync thread: 208 ms as an ES module bundle, 99 ms this way). The CLI
 * is the same story once per command: `ferry --version` 0.29 s from the module tree, 0.17 s from the bundle (and
 * ~8 MiB less RSS). The bundles sit two levels below the root like the modules they replace (dist/<dir>/), so paths
 * they resolve from import.meta.url (worker files, package.json, native addons) stay right; code the CLI loads only
 * on demand (the server) is split into a chunk beside it.
 *
 * Packages with native addons or files they load by path stay outside the bundle and load from node_modules:
 * lmdb, zstd-napi, @node-rs/crc32, fs-native-extensions (native), piscina and pino (they start threads from their
 * own files). src/io/worker-file.ts picks the entry when it exists, else the plain compiled file (or the .ts
 * source under tsx).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const dir = new URL('../dist/workers/', import.meta.url).pathname;
const entries = readdirSync(dir).filter((name) => name.endsWith('.worker.js'));
if (entries.length === 0) throw new Error(`${dir}: no compiled workers (run tsc first)`);

const common = {
  bundle: true,
  platform: 'node',
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
};

// Ferry's own modules do nothing when imported but define things (none is imported for its side effects), so a worker
// bundle may leave out every module whose exports that worker never uses. Without this esbuild keeps each such
// module's top level, and with it the packages it imports: the sync worker loaded piscina and perf_hooks for a pool
// it never starts (CPU to start a sync thread, 21 alternating starts each: 94 -> 79 ms and 100 -> 89 ms, medians).
const distRoot = new URL('../dist/', import.meta.url).pathname;
const ownModulesPure = {
  name: 'own-modules-pure',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (!args.importer.startsWith(distRoot) || args.kind !== 'import-statement') return undefined;
      return { path: join(args.resolveDir, args.path), sideEffects: false };
    });
  },
};

for (const stale of readdirSync(dir).filter((name) => /\.worker\.(bundle|entry)\./.test(name))) {
  rmSync(join(dir, stale));
}
await build({
  ...common,
  format: 'cjs',
  plugins: [ownModulesPure],
  entryPoints: entries.map((name) => join(dir, name)),
  outdir: dir,
  outExtension: { '.js': '.bundle.cjs' },
  entryNames: '[name]',
  // A CommonJS file has no import.meta: the modules' own URL is the bundle's (the loader passes its __filename).
  define: { 'import.meta.url': '__ferryModuleUrl' },
  banner: { js: "const __ferryModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
const codeCache = new URL('../dist/src/io/code-cache.js', import.meta.url).pathname;
const bundles = entries.map((name) => join(dir, name.replace(/\.js$/, '.bundle.cjs')));
for (const bundle of bundles) {
  await build({
    ...common,
    format: 'cjs',
    sourcemap: false,
    stdin: {
      contents: `module.exports = require(${JSON.stringify(codeCache)}).loadBundle(require('node:path').join(__dirname, ${JSON.stringify(bundle.slice(dir.length))}));`,
      resolveDir: dir,
      loader: 'js',
    },
    outfile: bundle.replace(/\.bundle\.cjs$/, '.entry.cjs'),
  });
}
// The code cache, made in a worker thread of a Node started with bin/ferry's V8 flags (npm run bench and demo use the
// same): V8 rejects a cache made under other flags (then the threads compile from source, as they would without it).
const { binFerryNodeOptions } = await import(codeCache);
const ferryOptions = binFerryNodeOptions(readFileSync(new URL('../bin/ferry', import.meta.url), 'utf8'));
execFileSync(
  process.execPath,
  [
    ...ferryOptions,
    '--input-type=module',
    '-e',
    `import { Worker } from 'node:worker_threads';
     const code = ${JSON.stringify(`import(${JSON.stringify(codeCache)}).then(async (m) => { for (const b of ${JSON.stringify(bundles)}) await m.writeCodeCache(b); })`)};
     const worker = new Worker(code, { eval: true });
     worker.on('error', (e) => { console.error(e); process.exitCode = 1; });`,
  ],
  { stdio: 'inherit' },
);

// fastify (and its plugins), selfsigned and pino-pretty stay in node_modules: large, and some load files by path. The
// server's own code, which the CLI imports only for `serve`, is split into a chunk beside the bundle.
const cliDir = new URL('../dist/src/bundle/', import.meta.url).pathname;
rmSync(cliDir, { recursive: true, force: true }); // chunk names change with their content: no stale ones
await build({
  ...common,
  format: 'esm',
  // CommonJS code inside an ES module bundle still calls require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);",
  },
  entryPoints: { ferry: new URL('../dist/src/cli/bin.js', import.meta.url).pathname },
  outdir: cliDir,
  outExtension: { '.js': '.mjs' },
  splitting: true,
  chunkNames: '[name]-[hash]',
  external: [...common.external, 'pino-pretty', 'fastify', '@fastify/*', 'selfsigned'],
});
