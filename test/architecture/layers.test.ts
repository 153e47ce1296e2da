/**
 * The layer rule, in one place. Dependencies point down:
 *
 *   errors ← model ← io ← format / log / config / protocol ← store ← backup / server / remote ← sync ← cli
 *   (io and model are independent bottom layers; format and protocol are pure and do not use io)
 *
 * This test is the single source of that rule (ARCHITECTURE.md quotes the table). It reports each violation on one
 * line: `src/store/x.ts imports src/sync/index.ts (store may import: errors, model, format, log)`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Which src/ modules each module (or the workers/ folder) may import. */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  model: ['errors'],
  io: ['errors'],
  format: ['errors', 'model'],
  log: ['errors', 'model', 'io'],
  config: ['errors', 'model', 'io'],
  protocol: ['errors', 'model', 'io', 'format'],
  store: ['errors', 'model', 'io', 'format', 'log'],
  backup: ['errors', 'model', 'io', 'format', 'log', 'store'],
  server: ['errors', 'model', 'io', 'format', 'log', 'config', 'protocol', 'store'],
  remote: ['errors', 'model', 'io', 'format', 'log', 'config', 'protocol'],
  sync: ['errors', 'model', 'io', 'format', 'log', 'config', 'protocol', 'store', 'remote'],
  cli: [
    'errors',
    'model',
    'io',
    'format',
    'log',
    'config',
    'protocol',
    'store',
    'backup',
    'server',
    'remote',
    'sync',
  ],
  workers: ['errors', 'model', 'io', 'format', 'log', 'config', 'protocol', 'store', 'remote', 'sync'],
};

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listTs(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

function importsOf(source: string): string[] {
  const specs: string[] = [];
  const re =
    /(?:^|\s)(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|new URL\(\s*['"]([^'"]+)['"]/g;
  for (const m of source.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3]) as string);
  return specs;
}

/**
 * Ferry's own modules imported for their side effects alone (`import './x.js'`). The worker bundles take every one of
 * Ferry's modules as free of side effects and leave out those whose exports a worker does not use, so such an import
 * would silently do nothing there.
 */
function sideEffectImportsOf(code: string): string[] {
  return [...code.matchAll(/^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm)].map((m) => m[1] as string);
}

/** The module a file belongs to: `src/<module>/…` → module, `workers/…` → 'workers'. */
function moduleOf(rel: string): string | undefined {
  const parts = rel.split('/');
  if (parts[0] === 'src') return parts[1];
  if (parts[0] === 'workers') return 'workers';
  return undefined;
}

function violations(): string[] {
  const found: string[] = [];
  const files = [...listTs(join(ROOT, 'src')), ...listTs(join(ROOT, 'workers'))];
  for (const file of files) {
    const rel = relative(ROOT, file);
    const from = moduleOf(rel);
    if (from === undefined) continue;
    const allowed = MAY_IMPORT[from];
    if (allowed === undefined) {
      found.push(`${rel}: module ${from} is not in the layer table`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const spec of importsOf(text)) {
      if (!spec.startsWith('.')) continue;
      const target = relative(ROOT, resolve(dirname(file), spec));
      const to = moduleOf(target);
      if (to === undefined || to === from) continue;
      if (to === 'workers') {
        if (from !== 'workers' && !target.endsWith('.worker.ts') && !target.endsWith('.worker.js')) {
          found.push(`${rel} imports ${target} (only worker entry files are referenced from src)`);
        }
        continue;
      }
      if (!allowed.includes(to)) {
        found.push(`${rel} imports ${target} (${from} may import: ${allowed.join(', ') || 'nothing'})`);
      } else if (!/^src\/[^/]+\/index\.(js|ts)$/.test(target)) {
        found.push(`${rel} imports ${target} (import another module only through its index.ts)`);
      }
    }
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    if (from !== 'cli' && /process\.(argv|env|exit|on\(|once\()/.test(code)) {
      found.push(`${rel} touches process.argv/env/exit or signals (only src/cli may)`);
    }
    for (const spec of sideEffectImportsOf(code)) {
      found.push(
        `${rel} imports ${spec} only for its side effects (worker bundles leave out such modules: workers/bundle.mjs)`,
      );
    }
    if (rel !== 'src/model/clock.ts' && /Date\.now\(\)/.test(code)) {
      found.push(`${rel} reads the system clock (inject a Clock; only src/model/clock.ts calls Date.now())`);
    }
  }
  return found;
}

test('every import follows the layer table and goes through index.ts', () => {
  const found = violations();
  assert.equal(found.length, 0, `layer violations:\n${found.join('\n')}`);
});

test('the layer check finds the source files it is meant to check', () => {
  const files = listTs(join(ROOT, 'src'));
  assert.ok(files.length > 10, `only ${files.length} source files found under src/`);
  assert.ok(importsOf("import { x } from '../errors/index.js';").includes('../errors/index.js'));
  assert.deepEqual(sideEffectImportsOf("import { x } from './a.js';\nimport './b.js';\nimport 'node:c';"), [
    './b.js',
  ]);
});
