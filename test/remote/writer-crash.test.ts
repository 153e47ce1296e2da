import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isFerryError } from '../../src/errors/index.js';
import { parseGroup, parseNamespace } from '../../src/model/index.js';
import type { WriterSession } from '../../src/remote/index.js';
import { verifyDatastore } from '../../src/store/index.js';
import { ROOT } from '../helpers/cli.js';
import { startServerWorld } from '../helpers/server.js';
import { BLOB_NAME, INDEX_NAME } from '../helpers/snapshots.js';
import { makeUpload } from '../helpers/uploads.js';
import { log, makePool } from '../helpers/world.js';

const T0 = Date.UTC(2026, 0, 1) / 1000;
const root = parseNamespace('');

test('a push client killed with SIGKILL mid-upload leaves no snapshot, and the group takes a new push', async (t) => {
  const world = await startServerWorld(t, { limits: { idleMs: 500 } });
  const ds = world.store('store1');
  const creds = await world.token('push@pam!t', [['/', 'backup']]);
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'test/fixtures/push-forever.ts'),
      world.server.url,
      world.server.fingerprint as string,
      creds.authId,
      String(T0),
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FERRY_TEST_SECRET: creds.secret },
    },
  );
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const [first] = (await once(child.stdout, 'data')) as [Buffer];
  assert.equal(String(first), 'uploading\n', stderr);
  // Let it get well into further batches, then kill it in the middle of one.
  const before = world.server.stats().requests;
  for (let i = 0; i < 500 && world.server.stats().requests < before + 3; i++) await sleep(10);
  child.kill('SIGKILL');
  await once(child, 'close');

  const group = parseGroup('vm/1');
  assert.deepEqual(
    (await ds.listSnapshots(root, group)).filter((s) => s.finished),
    [],
    'no finished snapshot after the crash',
  );
  const client = world.client(creds);
  let writer: WriterSession | undefined;
  for (let i = 0; i < 500 && writer === undefined; i++) {
    writer = await client.openWriter('store1', root, { group, time: T0 }).catch((err: unknown) => {
      if (!isFerryError(err, 'FERRY_ERR_LOCKED')) throw err;
      return undefined;
    });
    if (writer === undefined) await sleep(20);
  }
  assert.ok(writer, 'the group stayed locked after the client died');
  assert.deepEqual(
    await ds.listSnapshotFiles(root, { group, time: T0 }),
    [],
    'the dead session left no files',
  );

  const up = makeUpload({ seed: 7, count: 4 });
  await writer.uploadChunks(up.chunks);
  await writer.uploadFile(INDEX_NAME, up.index);
  await writer.uploadFile(BLOB_NAME, up.blob);
  await writer.finish(up.manifest({ group, time: T0 }));
  const snaps = await client.listSnapshots('store1', root, group);
  assert.deepEqual(
    snaps.map((s) => [s.snapshot.time, s.inProgress]),
    [[T0, false]],
  );
  const report = await verifyDatastore(ds, { pool: makePool(t), log, taskId: 'crash-test' });
  assert.deepEqual(report.problems, []);
  assert.equal(report.snapshots, 1);
});
