import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { binFerryNodeOptions } from '../../src/io/code-cache.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const SOURCE = new URL('../../src/io/code-cache.ts', import.meta.url).href;

/** Runs `code` (an ES module that has runBundle and writeCodeCache in scope) in a new Node. */
async function inNewNode(code: string, v8Flags: string[], module = SOURCE): Promise<string> {
  const preamble = `import { runBundle, writeCodeCache } from ${JSON.stringify(module)};`;
  const args = [...v8Flags, '--import', 'tsx', '--input-type=module', '-e', `${preamble}\n${code}`];
  const { stdout } = await run(process.execPath, args, { cwd: ROOT });
  return stdout.trim();
}

const load = (file: string) =>
  `const { exports, cache } = runBundle(${JSON.stringify(file)}); console.log(cache + '|' + exports.answer());`;

test('a bundle runs as a CommonJS module, with its code cache when the cache was made for this source and these flags', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-code-cache-'));
  try {
    const file = join(dir, 'thing.bundle.cjs');
    const body = (letter: string) =>
      `exports.answer = () => '${letter}:' + require('node:path').basename(__filename) + ':' + (__dirname === ${JSON.stringify(dir)}) + ':' + (module.exports === exports);`;
    await writeFile(file, body('A'));
    const flags = ['--max-opt=2'];
    assert.equal(await inNewNode(load(file), flags), 'none|A:thing.bundle.cjs:true:true');

    await inNewNode(`await writeCodeCache(${JSON.stringify(file)});`, flags);
    assert.deepEqual(
      await readdir(dir),
      ['thing.bundle.cjs', 'thing.bundle.cjs.v8cache'],
      'no temp file left',
    );
    assert.equal(await inNewNode(load(file), flags), 'used|A:thing.bundle.cjs:true:true');

    // V8 checks only the source's length: the same length with other code must not run the old bytecode.
    await writeFile(file, body('B'));
    assert.equal(await inNewNode(load(file), flags), 'made for another source|B:thing.bundle.cjs:true:true');

    await inNewNode(`await writeCodeCache(${JSON.stringify(file)});`, flags);
    assert.equal(await inNewNode(load(file), []), 'rejected by V8|B:thing.bundle.cjs:true:true');

    await writeFile(`${file}.v8cache`, Buffer.from('not a cache at all'));
    assert.equal(await inNewNode(load(file), flags), 'made for another source|B:thing.bundle.cjs:true:true');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the build's worker bundles carry a code cache that V8 takes under bin/ferry's flags", async () => {
  const built = new URL('../../dist/src/io/code-cache.js', import.meta.url);
  assert.ok(existsSync(built), 'dist/ is built (npm ci runs npm run build)');
  const flags = binFerryNodeOptions(readFileSync(new URL('../../bin/ferry', import.meta.url), 'utf8'));
  assert.ok(flags.includes('--max-opt=2'), 'bin/ferry runs the bundles with its V8 flags');
  assert.throws(() => binFerryNodeOptions('#!/bin/sh\nexec node dist/cli.js'), /exec node <options>/);
  for (const name of ['sync-group', 'chunk']) {
    const file = new URL(`../../dist/workers/${name}.worker.bundle.cjs`, import.meta.url).pathname;
    assert.ok(existsSync(new URL(`../../dist/workers/${name}.worker.entry.cjs`, import.meta.url)));
    const answer = await inNewNode(
      `const { exports, cache } = runBundle(${JSON.stringify(file)}); console.log(cache + '|' + typeof exports.default);`,
      flags,
      built.href,
    );
    assert.equal(
      answer,
      'used|function',
      `${name}: the cache is used and the bundle exports its task handler`,
    );
  }
});
