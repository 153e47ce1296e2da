/**
 * Pull and push through a real `ferry serve` on 127.0.0.1 (HTTPS, pinned fingerprint, scoped tokens), with real
 * worker threads: the same chain as local syncs, over the remote source and target.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { LogLine } from '../../src/log/index.js';
import { parseGroup, parseNamespace, SYSTEM_CLOCK } from '../../src/model/index.js';
import { Datastore, verifyDatastore } from '../../src/store/index.js';
import { EndpointOpener, type EndpointSpec, runSync, type SyncSummary } from '../../src/sync/index.js';
import { describeStore } from '../helpers/describe-store.js';
import { faultyProxy } from '../helpers/faulty-proxy.js';
import { fillDatastore, syncJob } from '../helpers/fixtures.js';
import { type Credentials, type ServerWorld, startServerWorld } from '../helpers/server.js';
import { log, makePool } from '../helpers/world.js';

function remoteSpec(world: ServerWorld, store: string, credentials: Credentials): EndpointSpec {
  return {
    kind: 'remote',
    remote: 'test',
    store,
    url: world.server.url,
    authId: credentials.authId,
    secret: credentials.secret,
    fingerprint: world.server.fingerprint ?? undefined,
    connections: 4,
  };
}

async function run(
  t: TestContext,
  direction: 'pull' | 'push',
  local: Datastore,
  remote: EndpointSpec,
  values: Record<string, unknown> = {},
  lines: LogLine[] = [],
): Promise<SyncSummary> {
  const opener = new EndpointOpener(SYSTEM_CLOCK, log);
  t.after(() => opener.close());
  const localSpec: EndpointSpec = { kind: 'local', store: 'local', path: local.path };
  const summary = await runSync({
    job: syncJob({
      store: 'local',
      'remote-store': 'remote',
      remote: 'test',
      'sync-direction': direction,
      ...values,
    }),
    source: direction === 'pull' ? remote : localSpec,
    target: direction === 'pull' ? localSpec : remote,
    opener,
    clock: SYSTEM_CLOCK,
    sink: (r) => lines.push(...r),
  });
  assert.equal(
    summary.groups.failed,
    0,
    `${JSON.stringify(summary.failed)}\n${lines.map((l) => `[${l.label ?? '-'}] ${l.msg}`).join('\n')}`,
  );
  return summary;
}

test('a pull from a remote server copies its groups exactly; a no-op re-run asks nothing per group', async (t) => {
  const world = await startServerWorld(t, { stores: ['source1'] });
  const pool = makePool(t);
  const source = world.store('source1');
  await fillDatastore(source, pool, world.dir, {
    groups: ['vm/100', 'vm/101', 'ct/200'],
    snapshots: 2,
    sharedBlocks: 1,
  });
  await fillDatastore(source, pool, world.dir, { ns: 'prod', groups: ['vm/300'], snapshots: 1 });
  const reader = await world.token('sync@pbs!pull', [['/datastore/source1', 'reader']]);
  const target = await Datastore.create(join(world.dir, 'local'));
  t.after(() => target.close());
  const first = await run(t, 'pull', target, remoteSpec(world, 'source1', reader), { 'worker-threads': 4 });
  assert.equal(first.snapshots.synced, 7);
  assert.deepEqual(await describeStore(target), {
    ...(await describeStore(source)),
    owners: (await describeStore(target)).owners,
  });
  assert.deepEqual((await verifyDatastore(target, { pool, log, taskId: 't' })).problems, []);

  const before = world.server.stats().requests;
  const again = await run(t, 'pull', target, remoteSpec(world, 'source1', reader), { 'worker-threads': 2 });
  const requests = world.server.stats().requests - before;
  assert.equal(again.chunks.fetched, 0);
  assert.equal(again.snapshots.unchanged, 4);
  // The namespace listing, then per namespace its groups and all their snapshots: nothing per group, as the
  // protected-csum answers the re-check.
  assert.equal(requests, 1 + 2 * 2, `requests for a no-op pull of 4 groups in 2 namespaces`);

  // A group filter that picks one group of three: its snapshots are listed for it alone, not the namespace's.
  const mark = world.server.stats().requests;
  const one = await run(t, 'pull', target, remoteSpec(world, 'source1', reader), {
    'group-filter': ['type:ct'],
  });
  assert.equal(one.snapshots.unchanged, 1);
  assert.equal(
    world.server.stats().requests - mark,
    1 + 2 + 1,
    'namespaces, groups of each, one group snapshots',
  );
});

test('a push to a remote server publishes the same snapshots, uploads each chunk once, and never re-sends one', async (t) => {
  const world = await startServerWorld(t, { stores: ['target1'] });
  const pool = makePool(t);
  const local = await Datastore.create(join(world.dir, 'local'));
  t.after(() => local.close());
  const groups = ['vm/1', 'vm/2', 'vm/3', 'vm/4'];
  await fillDatastore(local, pool, world.dir, { groups, snapshots: 2, blocks: 4, sharedBlocks: 3 });
  const pusher = await world.token('sync@pbs!push', [['/datastore/target1', 'backup']]);
  const summary = await run(t, 'push', local, remoteSpec(world, 'target1', pusher), { 'worker-threads': 4 });
  assert.equal(summary.snapshots.synced, 8);
  const remote = world.store('target1');
  const want = await describeStore(local);
  const got = await describeStore(remote);
  assert.deepEqual(got.snapshots, want.snapshots);
  assert.deepEqual(got.chunks, want.chunks);
  const unique = want.chunks.length;
  assert.ok(
    summary.chunks.fetched <= unique,
    `${summary.chunks.fetched} chunks uploaded for ${unique} unique`,
  );
  assert.ok(
    Object.values(got.owners).every((o) => o === 'sync@pbs!push'),
    'pushed groups belong to the remote user',
  );
  const again = await run(t, 'push', local, remoteSpec(world, 'target1', pusher), { 'worker-threads': 2 });
  assert.equal(again.snapshots.synced, 0);
  assert.equal(again.chunks.fetched, 0);
});

test("a sync thread's retried request is a warning in the job log, under its group", async (t) => {
  const world = await startServerWorld(t, { stores: ['source1'], insecureHttp: true });
  const pool = makePool(t);
  await fillDatastore(world.store('source1'), pool, world.dir, { groups: ['vm/100'], snapshots: 1 });
  let busy = 0;
  const proxy = await faultyProxy(t, world.server.url, (req) => {
    if (req.method === 'POST' && req.url?.includes('/chunks') && busy === 0) {
      busy++;
      return '503';
    }
    return 'pass';
  });
  const reader = await world.token('sync@pbs!pull', [['/datastore/source1', 'reader']]);
  const target = await Datastore.create(join(world.dir, 'local'));
  t.after(() => target.close());
  const lines: LogLine[] = [];
  const remote = { ...remoteSpec(world, 'source1', reader), url: proxy.url, fingerprint: undefined };
  const summary = await run(t, 'pull', target, remote, {}, lines);
  assert.equal(summary.snapshots.synced, 1);
  assert.equal(busy, 1);
  const warned = lines.filter((l) => l.level === 'warn' && l.label === 'vm/100');
  assert.equal(warned.length, 1, lines.map((l) => `[${l.label ?? '-'}] ${l.level} ${l.msg}`).join('\n'));
  assert.match(
    warned[0]?.msg ?? '',
    /^request failed, retrying \(\/api2\/json\/reader\/[0-9a-f]+\/chunks, attempt 1\): /,
  );
});

test('a chunk download the server keeps refusing fails its group with the chunks it owed named in the error', async (t) => {
  const world = await startServerWorld(t, { stores: ['source1'], insecureHttp: true });
  const pool = makePool(t);
  await fillDatastore(world.store('source1'), pool, world.dir, { groups: ['vm/100'], snapshots: 1 });
  const proxy = await faultyProxy(t, world.server.url, (req) =>
    req.method === 'POST' && req.url?.includes('/chunks') ? '503' : 'pass',
  );
  const reader = await world.token('sync@pbs!pull', [['/datastore/source1', 'reader']]);
  const target = await Datastore.create(join(world.dir, 'local'));
  t.after(() => target.close());
  const opener = new EndpointOpener(SYSTEM_CLOCK, log);
  t.after(() => opener.close());
  const remote = { ...remoteSpec(world, 'source1', reader), url: proxy.url, fingerprint: undefined };
  const summary = await runSync({
    job: syncJob({ store: 'local', 'remote-store': 'source1', remote: 'test' }),
    source: remote,
    target: { kind: 'local', store: 'local', path: target.path },
    opener,
    clock: SYSTEM_CLOCK,
    sink: () => undefined,
  });
  assert.equal(summary.groups.failed, 1);
  const failure = summary.failed[0];
  assert.equal(failure?.code, 'FERRY_ERR_BUSY');
  assert.match(
    failure?.error ?? '',
    /^group vm\/100: snapshot \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: archive drive-scsi0\.img\.fidx: downloading (chunk [0-9a-f]{8}|\d+ chunks from [0-9a-f]{8}): server answered HTTP 503$/,
  );
  // Each batch request is tried 1 + 3 times by the transport, and not asked again on top of that (it was 4 x 4).
  const batches = proxy.seen.filter((r) => /^POST \/api2\/json\/reader\/[0-9a-f]+\/chunks$/.test(r)).length;
  assert.ok(batches >= 4 && batches <= 4 * 4, `${batches} batch requests:\n${proxy.seen.join('\n')}`);
  assert.equal(
    (await target.listSnapshots(parseNamespace(''), parseGroup('vm/100'))).length,
    0,
    'nothing partial',
  );
});

test("a first pull gets each group's first snapshot files with its reader session: no download of its own", async (t) => {
  const world = await startServerWorld(t, { stores: ['source1'], insecureHttp: true });
  const pool = makePool(t);
  const source = world.store('source1');
  const groups = ['vm/100', 'vm/101', 'ct/200'];
  await fillDatastore(source, pool, world.dir, { groups, snapshots: 3 });
  const proxy = await faultyProxy(t, world.server.url, () => 'pass');
  const reader = await world.token('sync@pbs!pull', [['/datastore/source1', 'reader']]);
  const target = await Datastore.create(join(world.dir, 'local'));
  t.after(() => target.close());
  const remote = { ...remoteSpec(world, 'source1', reader), url: proxy.url, fingerprint: undefined };
  const summary = await run(t, 'pull', target, remote, { 'worker-threads': 2 });
  assert.equal(summary.snapshots.synced, 9);
  assert.deepEqual(await describeStore(target), await describeStore(source));
  // Files the pull had to download: the manifest and archives of every snapshot but each group's first.
  let later = 0;
  for (const g of groups) {
    const snaps = await source.listSnapshots(parseNamespace(''), parseGroup(g));
    for (const s of snaps.slice(1)) later += 1 + (s.manifest?.files.length ?? 0);
  }
  const downloads = proxy.seen.filter((r) =>
    /^GET \/api2\/json\/reader\/[0-9a-f]+\/download$/.test(r),
  ).length;
  assert.equal(downloads, later, proxy.seen.join('\n'));
  assert.equal(
    proxy.seen.filter((r) => r.endsWith('/reader')).length,
    groups.length,
    'one reader session each',
  );
});

test('a rate-limited pull and push over a remote stop at once when the job is stopped, leaving nothing partial', async (t) => {
  const world = await startServerWorld(t, { stores: ['source1', 'target1'] });
  const pool = makePool(t);
  const groups = ['vm/1', 'vm/2', 'vm/3'];
  await fillDatastore(world.store('source1'), pool, world.dir, { groups, snapshots: 2, blocks: 6 });
  const local = await Datastore.create(join(world.dir, 'local'));
  t.after(() => local.close());
  await fillDatastore(local, pool, world.dir, { groups, snapshots: 2, blocks: 6 });
  const token = await world.token('sync@pbs!job', [['/', 'admin']]);
  for (const [direction, remote, rate] of [
    ['pull', 'source1', 'rate-in'],
    ['push', 'target1', 'rate-out'],
  ] as const) {
    const target = direction === 'pull' ? await Datastore.create(join(world.dir, `pulled`)) : undefined;
    if (target) t.after(() => target.close());
    const localSpec: EndpointSpec = { kind: 'local', store: 'local', path: (target ?? local).path };
    const opener = new EndpointOpener(SYSTEM_CLOCK, log);
    t.after(() => opener.close());
    const stop = new AbortController();
    let stoppedAt = 0;
    // 2 MiB/s: the batches in flight when the job is stopped would take many seconds to finish.
    const running = runSync({
      job: syncJob({
        store: 'local',
        'remote-store': remote,
        remote: 'test',
        'sync-direction': direction,
        'worker-threads': 2,
        [rate]: '2MiB',
      }),
      source: direction === 'pull' ? remoteSpec(world, remote, token) : localSpec,
      target: direction === 'pull' ? localSpec : remoteSpec(world, remote, token),
      opener,
      clock: SYSTEM_CLOCK,
      signal: stop.signal,
      sink: () => undefined,
      onProgress: (p) => {
        if (stoppedAt === 0 && p.total.bytesFetched > 0) {
          stoppedAt = performance.now();
          stop.abort();
        }
      },
    });
    const summary = await running;
    const seconds = (performance.now() - stoppedAt) / 1000;
    assert.ok(stoppedAt > 0, `${direction}: stopped before any chunk moved`);
    assert.equal(summary.aborted, true, direction);
    assert.ok(seconds < 5, `${direction}: took ${seconds.toFixed(1)} s to stop`);
    const store = target ?? world.store(remote);
    const report = await verifyDatastore(store, { pool, log, taskId: 't' });
    assert.deepEqual(report.problems, [], direction);
    assert.ok(summary.snapshots.synced < 6, `${direction}: the job was cut short`);
  }
});
