import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { diskWriteRate, runCommand, setAside } from '../../bench/measure.js';

test('setAside moves a run’s output beside it without deleting it; with too little free space it deletes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-measure-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const target = join(dir, 'target');
  for (const round of [1, 2]) {
    await mkdir(join(target, 'chunks'), { recursive: true });
    await writeFile(join(target, 'chunks', 'c'), `round ${round}`);
    await setAside(target, 0);
    assert.deepEqual(await readdir(dir), ['.set-aside'], `round ${round}: the path is free again`);
  }
  const kept = await readdir(join(dir, '.set-aside'));
  assert.equal(kept.length, 2, 'both rounds kept, under different names');
  for (const name of kept) assert.deepEqual(await readdir(join(dir, '.set-aside', name, 'chunks')), ['c']);

  await setAside(join(dir, 'never-made'), 0); // nothing there: nothing to do
  await mkdir(target);
  await setAside(target, Number.POSITIVE_INFINITY);
  assert.deepEqual(await readdir(dir), ['.set-aside'], 'deleted when the disk is short of space');
  assert.equal((await readdir(join(dir, '.set-aside'))).length, 2);
});

test('runCommand waits for a command and throws naming it when it exits non-zero or cannot start', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-run-command-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await runCommand('sh', ['-c', `sleep 0.2 && touch ${join(dir, 'done')}`]);
  assert.deepEqual(await readdir(dir), ['done'], 'it returned only after the command ended');
  await assert.rejects(runCommand('sh', ['-c', 'exit 3'], true), /^Error: sh -c exited 3$/);
  await assert.rejects(runCommand('ferry-no-such-command', []), /ENOENT/);
});

test('diskWriteRate times a synced write of the given bytes and leaves nothing behind', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-disk-rate-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const r = await diskWriteRate(dir, 9 * 1024 * 1024); // 3 blocks of 4 MiB: rounds up, never short
  assert.ok(Number.isFinite(r.mibPerSecond) && r.mibPerSecond > 0, `a rate: ${r.mibPerSecond}`);
  assert.equal(typeof r.direct, 'boolean');
  assert.deepEqual(await readdir(dir), [], 'the scratch file is gone');
  await assert.rejects(diskWriteRate(join(dir, 'missing'), 1), /ENOENT/, 'a directory that is not there');
});
