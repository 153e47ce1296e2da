import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { LogLine } from '../../src/log/index.js';
import { formatSnapshot, SYSTEM_CLOCK } from '../../src/model/index.js';
import { Datastore, verifyDatastore } from '../../src/store/index.js';
import { EndpointOpener, runSync } from '../../src/sync/index.js';
import { fillDatastore, syncJob } from '../helpers/fixtures.js';
import { log, makePool, tempDir } from '../helpers/world.js';

async function world(t: TestContext) {
  const dir = await tempDir(t);
  const source = await Datastore.create(join(dir, 'source'));
  const target = await Datastore.create(join(dir, 'target'));
  t.after(() => source.close());
  t.after(() => target.close());
  const pool = makePool(t);
  const opener = new EndpointOpener(SYSTEM_CLOCK, log);
  t.after(() => opener.close());
  return { dir, source, target, pool, opener };
}

async function pull(w: Awaited<ReturnType<typeof world>>, values: Record<string, unknown> = {}) {
  const lines: LogLine[] = [];
  const summary = await runSync({
    job: syncJob(values),
    source: { kind: 'local', store: 'source', path: w.source.path },
    target: { kind: 'local', store: 'target', path: w.target.path },
    opener: w.opener,
    clock: SYSTEM_CLOCK,
    sink: (run) => lines.push(...run),
  });
  return { summary, lines };
}

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
  const w = await world(t);
  await fillDatastore(w.source, w.pool, w.dir, {
    groups: ['vm/100', 'ct/200', 'host/web'],
    snapshots: 2,
    sharedBlocks: 1,
  });
  await fillDatastore(w.source, w.pool, w.dir, { ns: 'prod', groups: ['vm/300'], snapshots: 1 });
  const { summary, lines } = await pull(w, { 'worker-threads': 2 });
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

  const again = await pull(w, { 'worker-threads': 2 });
  assert.equal(again.summary.chunks.fetched, 0, 'a second run fetches nothing');
  assert.equal(again.summary.snapshots.synced, 0);
  assert.equal(again.summary.snapshots.unchanged, 4, 'the newest snapshot of each group is checked again');
});
