import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseBackupSpec, resolveArchiveName, restoreArchive, runBackup } from '../../src/backup/index.js';
import { parseAuthId, parseGroup, ROOT_NAMESPACE } from '../../src/model/index.js';
import { seededBytes } from '../helpers/random.js';
import { log, makeDatastore, makePool, tempDir } from '../helpers/world.js';

const OWNER = parseAuthId('root@pam');

test('an image backs up and restores byte-identical', async (t) => {
  const ds = await makeDatastore(t);
  const pool = makePool(t);
  const dir = await tempDir(t);
  const image = Buffer.concat([seededBytes(1, 10 * 1024 * 1024 + 123), Buffer.alloc(6 * 1024 * 1024, 9)]);
  await writeFile(join(dir, 'disk.raw'), image);
  const result = await runBackup(ds, {
    ns: ROOT_NAMESPACE,
    group: parseGroup('vm/100'),
    time: 1767225600,
    owner: OWNER,
    sources: [parseBackupSpec(`drive.img:${join(dir, 'disk.raw')}`)],
    pool,
    log,
  });
  assert.equal(result.total.chunks, 5);
  await restoreArchive(
    ds,
    ROOT_NAMESPACE,
    result.snapshot,
    resolveArchiveName('drive.img'),
    join(dir, 'out.raw'),
  );
  const restored = await readFile(join(dir, 'out.raw'));
  assert.equal(
    createHash('sha256').update(restored).digest('hex'),
    createHash('sha256').update(image).digest('hex'),
  );
});
