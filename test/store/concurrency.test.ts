import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyChunk } from '../../src/format/index.js';
import { digestOf, parseAuthId, parseDigest, parseGroup, ROOT_NAMESPACE } from '../../src/model/index.js';
import { Datastore, SnapshotWriter } from '../../src/store/index.js';
import { ferry, ferryJson, finished, ROOT } from '../helpers/cli.js';
import { seededBytes } from '../helpers/random.js';
import { writeTestSnapshot } from '../helpers/snapshots.js';
import { tempDir } from '../helpers/world.js';

const CHUNK_BYTES = 64 * 1024;

function insertProcess(store: string, first: number, last: number, threads: number, orderSeed: number) {
  return spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'test/fixtures/insert-chunks.ts'),
      store,
      String(first),
      String(last),
      String(threads),
      String(orderSeed),
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

test('two processes with two worker threads each insert overlapping chunks without corrupting a chunk or the index', async (t) => {
  const dir = await tempDir(t);
  const storePath = join(dir, 'store');
  await (await Datastore.create(storePath)).close();
  // Process A stores chunks 0..299, process B 150..449, in different orders: 150 chunks are raced for.
  const [a, b] = await Promise.all([
    finished(insertProcess(storePath, 0, 299, 2, 1)),
    finished(insertProcess(storePath, 150, 449, 2, 2)),
  ]);
  for (const [name, run] of [
    ['A', a],
    ['B', b],
  ] as const)
    assert.equal(run.code, 0, `process ${name}: exit ${run.code}, signal ${run.signal}: ${run.stderr}`);

  const ds = await Datastore.open(storePath);
  t.after(() => ds.close());
  const expected = new Set(Array.from({ length: 450 }, (_, i) => digestOf(seededBytes(i, CHUNK_BYTES))));
  const files = new Set<string>();
  for (const prefix of await readdir(ds.layout.chunksDir)) {
    for (const name of await readdir(join(ds.layout.chunksDir, prefix))) {
      assert.match(name, /^[0-9a-f]{64}$/, `no temp file or stray left in .chunks/${prefix}`);
      const digest = parseDigest(name);
      const blob = await readFile(join(ds.layout.chunksDir, prefix, name));
      verifyChunk(blob, digest, { expectedSize: CHUNK_BYTES, encrypted: false });
      assert.equal(ds.chunks.get(digest)?.encodedSize, blob.length, 'index entry matches the file');
      files.add(name);
    }
  }
  assert.deepEqual([...files].sort(), [...expected].sort());
  assert.equal(ds.chunks.index.count(), 450);
});

test('a second writer on a locked group fails at once with exit status 11 naming the group', async (t) => {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  await ferryJson(home, ['datastore', 'create', 'store1', join(dir, 'store')]);
  await writeFile(join(dir, 'vm.conf'), 'cores: 1\n');
  const ds = await Datastore.open(join(dir, 'store'));
  t.after(() => ds.close());
  // A real first writer holds the group: a snapshot being written by this process.
  const writer = await SnapshotWriter.begin(
    ds,
    ROOT_NAMESPACE,
    { group: parseGroup('vm/100'), time: 1767225600 },
    { owner: parseAuthId('root@pam') },
  );
  t.after(() => writer.abort());
  const started = performance.now();
  const second = await ferry(home, [
    'backup',
    'store1',
    'vm/100',
    `vm.conf:${join(dir, 'vm.conf')}`,
    '--time',
    '2026-01-02T00:00:00Z',
  ]);
  assert.equal(second.code, 11);
  assert.match(second.stderr, /group vm\/100 is locked by another task/);
  assert.ok(performance.now() - started < 10_000, 'fails at once instead of waiting');
  const other = await ferry(home, [
    'backup',
    'store1',
    'vm/101',
    `vm.conf:${join(dir, 'vm.conf')}`,
    '--time',
    '2026-01-02T00:00:00Z',
  ]);
  assert.equal(other.code, 0, 'other groups stay writable');
});

test('protecting a snapshot while it is being removed: never both succeed, and a protected snapshot is never removed', async (t) => {
  const dir = await tempDir(t);
  const ds = await Datastore.create(join(dir, 'store'));
  t.after(() => ds.close());
  const group = parseGroup('vm/1');
  let protectedFirst = 0;
  let removedFirst = 0;
  for (let i = 0; i < 30; i++) {
    const time = 1767225600 + i * 60;
    await writeTestSnapshot(ds, { group: 'vm/1', time, chunks: 1, seed: i });
    const snapshot = { group, time };
    // Started together, each after a few turns of the event loop (a different mix each round): their file system
    // calls interleave, as a protect from one process and a prune from another would.
    const turns = async (n: number) => {
      for (let k = 0; k < n; k++) await new Promise((resolve) => setImmediate(resolve));
    };
    const [protect, remove] = await Promise.allSettled([
      turns(i % 6).then(() => ds.setProtected(ROOT_NAMESPACE, snapshot, true)),
      turns(Math.floor(i / 6)).then(() => ds.removeSnapshot(ROOT_NAMESPACE, snapshot)),
    ]);
    const exists = (await ds.listSnapshots(ROOT_NAMESPACE, group)).some((s) => s.snapshot.time === time);
    assert.ok(
      !(protect.status === 'fulfilled' && remove.status === 'fulfilled'),
      `round ${i}: the snapshot was protected and removed`,
    );
    if (protect.status === 'fulfilled') {
      protectedFirst++;
      assert.ok(exists, `round ${i}: protected, yet gone`);
      assert.ok(remove.status === 'rejected' && /protected|lock/.test(String(remove.reason)), String(remove));
    } else {
      removedFirst++;
      assert.ok(!exists, `round ${i}: protection failed, yet the snapshot is still there`);
    }
  }
  assert.equal(protectedFirst + removedFirst, 30);
});
