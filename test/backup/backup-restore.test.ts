import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBackupSpec, resolveArchiveName, restoreArchive, runBackup } from '../../src/backup/index.js';
import {
  digestOf,
  parseAuthId,
  parseGroup,
  ROOT_NAMESPACE,
  type SnapshotRef,
} from '../../src/model/index.js';
import type { ChunkPool, Datastore } from '../../src/store/index.js';
import { seededBytes } from '../helpers/random.js';
import { log, makeDatastore, makePool, tempDir } from '../helpers/world.js';

const OWNER = parseAuthId('root@pam');

/** Backs up `image` as drive.img of vm/100. */
function backupDrive(ds: Datastore, pool: ChunkPool, image: string) {
  return runBackup(ds, {
    ns: ROOT_NAMESPACE,
    group: parseGroup('vm/100'),
    time: 1767225600,
    owner: OWNER,
    sources: [parseBackupSpec(`drive.img:${image}`)],
    pool,
    log,
  });
}

/** Restores drive.img of `snapshot` to `out` and returns its bytes. */
async function restoreDrive(ds: Datastore, snapshot: SnapshotRef, out: string): Promise<Buffer> {
  await restoreArchive(ds, ROOT_NAMESPACE, snapshot, resolveArchiveName('drive.img'), out);
  return readFile(out);
}

test('an image backs up and restores byte-identical', async (t) => {
  const ds = await makeDatastore(t);
  const pool = makePool(t);
  const dir = await tempDir(t);
  const image = Buffer.concat([seededBytes(1, 10 * 1024 * 1024 + 123), Buffer.alloc(6 * 1024 * 1024, 9)]);
  await writeFile(join(dir, 'disk.raw'), image);
  const result = await backupDrive(ds, pool, join(dir, 'disk.raw'));
  assert.equal(result.total.chunks, 5);
  const restored = await restoreDrive(ds, result.snapshot, join(dir, 'out.raw'));
  assert.equal(
    createHash('sha256').update(restored).digest('hex'),
    createHash('sha256').update(image).digest('hex'),
  );
});

/** The descriptors of this process that point at `path`. */
async function openDescriptors(path: string): Promise<string[]> {
  const open: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(join('/proc/self/fd', fd)).catch(() => '');
    if (target === path) open.push(fd);
  }
  return open;
}

test('an image backup whose chunk store fails names the chunk, keeps the other chunks, and closes the image', async (t) => {
  const ds = await makeDatastore(t);
  const pool = makePool(t);
  const dir = await tempDir(t);
  const image = seededBytes(2, 24 * 1024 * 1024);
  const imagePath = join(dir, 'disk.raw');
  await writeFile(imagePath, image);
  // A directory squats at the fourth chunk's path: its rename fails, after the chunks before it were sent.
  const digest = digestOf(image.subarray(12 * 1024 * 1024, 16 * 1024 * 1024));
  const squatter = ds.chunks.layout.chunkPath(digest);
  await mkdir(squatter, { recursive: true });
  await writeFile(join(squatter, 'x'), 'not a chunk');
  const backup = () => backupDrive(ds, pool, imagePath);
  await assert.rejects(backup(), (err: Error) => {
    assert.match(err.message, new RegExp(`EISDIR.*${digest.slice(0, 16)}`));
    return true;
  });
  assert.deepEqual(await openDescriptors(imagePath), [], 'the image is closed once the backup has failed');
  assert.deepEqual(await ds.listSnapshots(ROOT_NAMESPACE, parseGroup('vm/100')), []);
  // The chunks that were stored stay (the next backup reuses them); the next backup succeeds.
  assert.ok(ds.chunks.index.entries().next().done === false);
  await rm(squatter, { recursive: true });
  const result = await backup();
  assert.equal(result.total.chunks, 6);
  assert.ok(result.total.newChunks < 6, 'chunks stored by the failed backup are reused');
  assert.deepEqual(await openDescriptors(imagePath), []);
  assert.ok((await restoreDrive(ds, result.snapshot, join(dir, 'out.raw'))).equals(image));
});
