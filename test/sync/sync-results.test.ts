import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { LogLine } from '../../src/log/index.js';
import { SYSTEM_CLOCK } from '../../src/model/index.js';
import { Datastore, verifyDatastore } from '../../src/store/index.js';
import { EndpointOpener, runSync, type SyncSummary } from '../../src/sync/index.js';
import { describeStore } from '../helpers/describe-store.js';
import { fillDatastore, syncJob } from '../helpers/fixtures.js';
import { log, makePool, tempDir } from '../helpers/world.js';

interface World {
  dir: string;
  source: Datastore;
  pool: ReturnType<typeof makePool>;
  opener: EndpointOpener;
}

async function world(t: TestContext): Promise<World> {
  const dir = await tempDir(t);
  const source = await Datastore.create(join(dir, 'source'));
  t.after(() => source.close());
  const opener = new EndpointOpener(SYSTEM_CLOCK, log);
  t.after(() => opener.close());
  return { dir, source, pool: makePool(t), opener };
}

async function newTarget(t: TestContext, w: World, name: string): Promise<Datastore> {
  const ds = await Datastore.create(join(w.dir, name));
  t.after(() => ds.close());
  return ds;
}

/** Pull (source → target) or push (the same ends, roles as a push job sees them). */
async function sync(
  w: World,
  target: Datastore,
  direction: 'pull' | 'push',
  values: Record<string, unknown> = {},
): Promise<SyncSummary> {
  const lines: LogLine[] = [];
  const local = {
    kind: 'local' as const,
    store: 'local',
    path: direction === 'pull' ? target.path : w.source.path,
  };
  const remote = {
    kind: 'local' as const,
    store: 'remote',
    path: direction === 'pull' ? w.source.path : target.path,
  };
  const summary = await runSync({
    job: syncJob({ store: 'local', 'remote-store': 'remote', 'sync-direction': direction, ...values }),
    source: direction === 'pull' ? remote : local,
    target: direction === 'pull' ? local : remote,
    opener: w.opener,
    clock: SYSTEM_CLOCK,
    sink: (run) => lines.push(...run),
  });
  assert.equal(
    summary.groups.failed,
    0,
    `${JSON.stringify(summary.failed)}\n${lines.map((l) => l.msg).join('\n')}`,
  );
  return summary;
}

test('pull and push with worker-threads 1, 4 and 8 produce the same target, which verifies', async (t) => {
  const w = await world(t);
  await fillDatastore(w.source, w.pool, w.dir, {
    groups: ['vm/100', 'vm/101', 'ct/200', 'host/a'],
    snapshots: 2,
    sharedBlocks: 1,
  });
  await fillDatastore(w.source, w.pool, w.dir, { ns: 'prod', groups: ['vm/300', 'vm/301'], snapshots: 2 });
  await fillDatastore(w.source, w.pool, w.dir, { ns: 'prod/db', groups: ['ct/400'], snapshots: 1 });
  const expected = await describeStore(w.source);
  for (const direction of ['pull', 'push'] as const) {
    for (const threads of [1, 4, 8]) {
      const target = await newTarget(t, w, `${direction}-${threads}`);
      const summary = await sync(w, target, direction, { 'worker-threads': threads });
      assert.equal(summary.groups.ok, 7);
      assert.deepEqual(await describeStore(target), expected, `${direction} with ${threads} threads`);
      const report = await verifyDatastore(target, { pool: w.pool, log, taskId: 't' });
      assert.deepEqual(report.problems, [], `${direction} ${threads}: verify`);
    }
  }
});

test('a second run moves nothing; after a new snapshot with 1% changed data only the new chunks move', async (t) => {
  const w = await world(t);
  const spec = { groups: ['vm/100'], snapshots: 1, blocks: 100, changedBlocks: 1 };
  await fillDatastore(w.source, w.pool, w.dir, spec);
  const target = await newTarget(t, w, 'target');
  const first = await sync(w, target, 'pull');
  assert.equal(first.chunks.fetched, 100);
  const second = await sync(w, target, 'pull');
  assert.equal(second.chunks.fetched, 0);
  assert.equal(second.bytes.fetched, 0);
  await fillDatastore(w.source, w.pool, w.dir, { ...spec, from: 1, snapshots: 2 }); // one block of 100 changed
  const before = new Set([...target.chunks.index.entries()].map(([d]) => d));
  const third = await sync(w, target, 'pull');
  const added = [...target.chunks.index.entries()].filter(([d]) => !before.has(d));
  assert.equal(third.chunks.fetched, 1);
  assert.equal(added.length, 1);
  assert.ok(
    third.bytes.fetched <= 1.1 * (added[0]?.[1].encodedSize ?? 0),
    `${third.bytes.fetched} bytes moved`,
  );
});

test('eight groups sharing 90% of their chunks, pulled with worker-threads 8, fetch each chunk once', async (t) => {
  const w = await world(t);
  const groups = Array.from({ length: 8 }, (_, i) => `vm/${100 + i}`);
  await fillDatastore(w.source, w.pool, w.dir, {
    groups,
    snapshots: 1,
    blocks: 10,
    sharedBlocks: 9,
    changedBlocks: 0,
  });
  const unique = [...w.source.chunks.index.entries()].reduce((sum, [, e]) => sum + e.encodedSize, 0);
  const target = await newTarget(t, w, 'target');
  const summary = await sync(w, target, 'pull', { 'worker-threads': 8 });
  assert.ok(
    summary.bytes.fetched <= 1.05 * unique,
    `fetched ${summary.bytes.fetched} bytes for ${unique} unique`,
  );
  assert.equal(summary.chunks.fetched, 9 + 8);
});

test('with worker-threads 4 the aggregator writes each group in runs of at most 5 lines, in order', async (t) => {
  const w = await world(t);
  await fillDatastore(w.source, w.pool, w.dir, {
    groups: ['vm/1', 'vm/2', 'vm/3', 'vm/4', 'vm/5'],
    snapshots: 4,
    blocks: 1,
  });
  const target = await newTarget(t, w, 'target');
  const runs: LogLine[][] = [];
  await runSync({
    job: syncJob({ store: 'local', 'remote-store': 'remote', 'worker-threads': 4 }),
    source: { kind: 'local', store: 'remote', path: w.source.path },
    target: { kind: 'local', store: 'local', path: target.path },
    opener: w.opener,
    clock: SYSTEM_CLOCK,
    sink: (run) => runs.push([...run]),
  });
  const groupRuns = runs.filter((r) => r[0]?.label !== undefined);
  assert.ok(groupRuns.length >= 5);
  for (const run of groupRuns) {
    assert.ok(run.length >= 1 && run.length <= 5, `a run of ${run.length}`);
    assert.equal(new Set(run.map((l) => l.label)).size, 1, 'one group per run');
  }
  for (const g of ['vm/1', 'vm/5']) {
    const msgs = groupRuns
      .flat()
      .filter((l) => l.label === g)
      .map((l) => l.msg);
    assert.match(msgs[0] ?? '', /start sync/);
    assert.equal(msgs.filter((m) => /sync done/.test(m)).length, 4);
  }
});
