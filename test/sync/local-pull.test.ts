import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Digest, formatSnapshot, SYSTEM_CLOCK } from '../../src/model/index.js';
import { type Datastore, verifyDatastore } from '../../src/store/index.js';
import { type EndpointOpener, runSync, type SyncSource } from '../../src/sync/index.js';
import { fillDatastore, syncJob } from '../helpers/fixtures.js';
import { localPull, localSyncWorld } from '../helpers/local-sync.js';
import { log, signalOrLate } from '../helpers/world.js';

async function snapshotsOf(ds: Datastore): Promise<string[]> {
  const out: string[] = [];
  for await (const { ns, group } of ds.walkGroups()) {
    for (const s of await ds.listSnapshots(ns, group)) {
      if (s.finished) out.push(`${ns}|${formatSnapshot(s.snapshot)}`);
    }
  }
  return out.sort();
}

test('a local pull copies every snapshot byte for byte and the target verifies', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, {
    groups: ['vm/100', 'ct/200', 'host/web'],
    snapshots: 2,
    sharedBlocks: 1,
  });
  await fillDatastore(w.source, w.pool, w.dir, { ns: 'prod', groups: ['vm/300'], snapshots: 1 });
  const { summary, raw: lines } = await localPull(w, { 'worker-threads': 2 });
  assert.equal(summary.groups.failed, 0, JSON.stringify(summary.failed));
  assert.equal(summary.groups.ok, 4);
  assert.equal(summary.snapshots.synced, 7);
  assert.deepEqual(await snapshotsOf(w.target), await snapshotsOf(w.source));
  for (const snap of await snapshotsOf(w.source)) {
    const [ns, ref] = snap.split('|') as [string, string];
    const [type, id, time] = ref.split('/') as [string, string, string];
    const rel = join(ns === '' ? '' : `ns/${ns}`, type, id, time, 'index.json.blob');
    assert.deepEqual(
      await readFile(join(w.target.path, rel)),
      await readFile(join(w.source.path, rel)),
      `manifest ${snap}`,
    );
  }
  const report = await verifyDatastore(w.target, { pool: w.pool, log, taskId: 't' });
  assert.deepEqual(report.problems, []);
  assert.ok(lines.some((l) => l.label === 'vm/100' && /start sync/.test(l.msg)));

  const again = await localPull(w, { 'worker-threads': 2 });
  assert.equal(again.summary.chunks.fetched, 0, 'a second run fetches nothing');
  assert.equal(again.summary.snapshots.synced, 0);
  assert.equal(again.summary.snapshots.unchanged, 4, 'the newest snapshot of each group is checked again');
});

test('a chunk whose store fails after its bytes are written fails its group, publishes nothing of it, and leaves the others alone', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/100'], snapshots: 1 });
  const ofVm = new Set([...w.source.chunks.index.entries()].map(([digest]) => digest));
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['ct/200'], snapshots: 1 });
  // A non-empty directory where one of vm/100's chunk files goes: its bytes are written to the temp file (the
  // reader has its memory back by then), and then the rename fails.
  const digest = [...ofVm][1] as Digest;
  const squatter = w.target.chunks.layout.chunkPath(digest);
  await mkdir(squatter, { recursive: true });
  await writeFile(join(squatter, 'x'), 'not a chunk');
  const first = await localPull(w, { 'worker-threads': 1 });
  assert.equal(first.summary.groups.ok, 1);
  assert.equal(first.summary.groups.failed, 1);
  const failed = first.summary.failed[0];
  assert.equal(failed?.group, 'vm/100');
  assert.match(failed?.error ?? '', /EISDIR|ENOTEMPTY|EEXIST/, failed?.error);
  assert.ok(failed?.error.includes(digest), 'the error names the chunk (its file)');
  assert.deepEqual(
    (await snapshotsOf(w.target)).map((s) => s.split('|')[1]?.split('/').slice(0, 2).join('/')),
    ['ct/200'],
    'only the other group is published',
  );
  assert.equal(w.target.chunks.has(digest), false, 'no index entry for the chunk that failed');
  await rm(squatter, { recursive: true });
  const again = await localPull(w, { 'worker-threads': 1 });
  assert.equal(again.summary.groups.failed, 0, JSON.stringify(again.summary.failed));
  assert.deepEqual(await snapshotsOf(w.target), await snapshotsOf(w.source));
  const report = await verifyDatastore(w.target, { pool: w.pool, log, taskId: 't' });
  assert.deepEqual(report.problems, []);
});

test("the anchor namespace's groups are asked for while the namespace listing is on its way", async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/100'], snapshots: 1, blocks: 1 });
  const events: string[] = [];
  // The namespace listing answers only once the groups were asked for, or after 500 ms.
  const asked = signalOrLate();
  const opener: EndpointOpener = Object.create(w.opener);
  opener.source = async (spec) => {
    const source = await w.opener.source(spec);
    const wrapped: SyncSource = Object.create(source);
    wrapped.listNamespaces = async (anchor, depth) => {
      const listed = await source.listNamespaces(anchor, depth);
      await asked.reached;
      events.push('namespaces answered');
      return listed;
    };
    wrapped.listGroups = (ns) => {
      events.push(`groups of '${ns}' asked`);
      asked.signal();
      return source.listGroups(ns);
    };
    return wrapped;
  };
  const summary = await runSync({
    job: syncJob({}),
    source: { kind: 'local', store: 'source', path: w.source.path },
    target: { kind: 'local', store: 'target', path: w.target.path },
    opener,
    clock: SYSTEM_CLOCK,
    sink: () => undefined,
  });
  assert.equal(summary.groups.ok, 1, JSON.stringify(summary.failed));
  assert.deepEqual(events, ["groups of '' asked", 'namespaces answered']);
});
