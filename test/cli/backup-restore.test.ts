import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ferry, ferryJson, ROOT } from '../helpers/cli.js';
import { compressibleBytes, seededBytes } from '../helpers/random.js';
import { describeTree } from '../helpers/tree.js';
import { tempDir } from '../helpers/world.js';

const MiB = 1024 * 1024;

interface BackupJson {
  snapshot: string;
  total: { chunks: number; newChunks: number; bytes: number; newBytes: number };
}

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  await ferryJson(home, ['datastore', 'create', 'store1', join(dir, 'store1')]);
  return { dir, home };
}

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

test('ferry --version prints the package version and exits 0', async (t) => {
  const home = join(await tempDir(t), 'home');
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const run = await ferry(home, ['--version']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), pkg.version);
});

test('a 256 MiB image with random and compressible regions restores byte-identical', async (t) => {
  const { dir, home } = await setup(t);
  const image = Buffer.concat([seededBytes(7, 128 * MiB), compressibleBytes(8, 128 * MiB - 4321)]);
  await writeFile(join(dir, 'disk.raw'), image);
  const backup = await ferryJson<BackupJson>(home, [
    'backup',
    'store1',
    'vm/100',
    `drive-scsi0.img:${join(dir, 'disk.raw')}`,
    '--time',
    '2026-01-01T00:00:00Z',
  ]);
  assert.equal(backup.total.chunks, 64);
  assert.equal(backup.total.bytes, image.length);
  assert.ok(backup.total.newBytes < image.length * 0.75, 'the compressible half is stored compressed');
  await ferryJson(home, [
    'restore',
    'store1',
    'vm/100/2026-01-01T00:00:00Z',
    'drive-scsi0.img',
    join(dir, 'out.raw'),
  ]);
  assert.equal(sha(await readFile(join(dir, 'out.raw'))), sha(image));
});

test('a directory tree restores with the same contents, modes and link targets', async (t) => {
  const { dir, home } = await setup(t);
  const src = join(dir, 'src');
  await mkdir(join(src, 'etc', 'deep', 'deeper', 'deepest'), { recursive: true });
  await mkdir(join(src, 'empty-dir'));
  await writeFile(join(src, 'etc', 'hosts'), '127.0.0.1 localhost\n');
  await writeFile(join(src, 'etc', 'deep', 'deeper', 'deepest', 'leaf.txt'), 'leaf');
  await writeFile(join(src, 'empty-file'), '');
  await writeFile(join(src, 'big.bin'), seededBytes(3, 17 * MiB));
  await writeFile(join(src, 'grüße-日本語-✓.txt'), 'non-ascii name');
  await mkdir(join(src, 'données'));
  await writeFile(join(src, 'données', 'élément'), 'x');
  await writeFile(join(src, 'secret'), 'mode 600');
  await chmod(join(src, 'secret'), 0o600);
  await writeFile(join(src, 'script.sh'), '#!/bin/sh\n');
  await chmod(join(src, 'script.sh'), 0o755);
  await chmod(join(src, 'etc', 'deep'), 0o750);
  await symlink('etc/hosts', join(src, 'hosts-link'));
  await symlink('/nonexistent/target', join(src, 'dangling'));
  await symlink('deeper', join(src, 'etc', 'deep', 'dir-link'));
  await ferryJson(home, [
    'backup',
    'store1',
    'host/web',
    `root.tar:${src}`,
    '--time',
    '2026-01-01T00:00:00Z',
  ]);
  await ferryJson(home, ['restore', 'store1', 'host/web/2026-01-01T00:00:00Z', 'root.tar', join(dir, 'out')]);
  assert.deepEqual(await describeTree(join(dir, 'out')), await describeTree(src));
});

test('an unchanged image writes no new chunks; 1% changed blocks write at most 2% of the image', async (t) => {
  const { dir, home } = await setup(t);
  const blocks = 100;
  const image = seededBytes(11, blocks * 4 * MiB);
  const file = join(dir, 'disk.raw');
  await writeFile(file, image);
  const run = (time: string) =>
    ferryJson<BackupJson>(home, ['backup', 'store1', 'vm/200', `drive.img:${file}`, '--time', time]);
  const first = await run('2026-01-01T00:00:00Z');
  assert.equal(first.total.newChunks, blocks);
  const second = await run('2026-01-02T00:00:00Z');
  assert.equal(second.total.newChunks, 0);
  assert.equal(second.total.newBytes, 0);
  seededBytes(12, 4 * MiB).copy(image, 37 * 4 * MiB); // one block of 100 = 1%
  await writeFile(file, image);
  const third = await run('2026-01-03T00:00:00Z');
  assert.equal(third.total.newChunks, 1);
  assert.ok(third.total.newBytes <= 0.02 * image.length, `${third.total.newBytes} new bytes`);
});

test('backing up an older time than the last snapshot is refused and changes nothing', async (t) => {
  const { dir, home } = await setup(t);
  await writeFile(join(dir, 'vm.conf'), 'cores: 2\n');
  await ferryJson(home, [
    'backup',
    'store1',
    'vm/1',
    `vm.conf:${join(dir, 'vm.conf')}`,
    '--time',
    '2026-01-02T00:00:00Z',
  ]);
  const older = await ferry(home, [
    'backup',
    'store1',
    'vm/1',
    `vm.conf:${join(dir, 'vm.conf')}`,
    '--time',
    '2026-01-01T00:00:00Z',
  ]);
  assert.equal(older.code, 1);
  assert.match(
    older.stderr,
    /snapshot vm\/1\/2026-01-01T00:00:00Z: backup time 2026-01-01T00:00:00Z is not after the group's last snapshot 2026-01-02T00:00:00Z/,
  );
  const list = await ferryJson<unknown[]>(home, ['snapshots', 'store1', '--all']);
  assert.equal(list.length, 1);
});

test('backing up an unchanged directory tree again writes no new chunks (sorted entries, no atime)', async (t) => {
  const { dir, home } = await setup(t);
  const src = join(dir, 'tree');
  await mkdir(join(src, 'b', 'c'), { recursive: true });
  for (const name of ['zeta', 'alpha', 'mid', 'b/c/deep'])
    await writeFile(join(src, name), seededBytes(name.length, 300_000));
  const run = (time: string) =>
    ferryJson<BackupJson>(home, ['backup', 'store1', 'host/h', `root.tar:${src}`, '--time', time]);
  const first = await run('2026-01-01T00:00:00Z');
  assert.ok(first.total.newChunks >= 1);
  await readFile(join(src, 'alpha')); // reading moves atime, which must not change the archive
  const second = await run('2026-01-02T00:00:00Z');
  assert.equal(second.total.newChunks, 0);
});
