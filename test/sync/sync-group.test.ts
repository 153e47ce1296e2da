/**
 * syncGroup on this thread, between two real local datastores, with the source and target wrapped to record the
 * order of the calls: what a long link makes expensive is waiting, so the order is what matters.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parseArchiveIndex } from '../../src/format/index.js';
import { ProgressCounters } from '../../src/log/index.js';
import {
  type ArchiveName,
  type Digest,
  formatBackupTime,
  makeGroup,
  parseAuthId,
  parseGroup,
  parseNamespace,
  SYSTEM_CLOCK,
} from '../../src/model/index.js';
import { type Datastore, verifyDatastore } from '../../src/store/index.js';
import {
  ChunkClaims,
  DEFAULT_TRANSFER,
  type GroupJob,
  type SourceGroupReader,
  type SyncSource,
  type SyncTarget,
  syncGroup,
} from '../../src/sync/index.js';
import { BASE_TIME, fillDatastore } from '../helpers/fixtures.js';
import { localSyncWorld } from '../helpers/local-sync.js';
import { log, signalOrLate } from '../helpers/world.js';

/**
 * Records each call the group makes on the source reader and each snapshot the target publishes; `asked` gets the
 * digests of each chunk request, with its place in `events`.
 */
function recording(
  source: SyncSource,
  target: SyncTarget,
  events: string[],
  asked: { at: number; digests: readonly string[] }[] = [],
) {
  const t = (time: number) => formatBackupTime(time).slice(11, 13);
  const wrappedSource: SyncSource = Object.create(source);
  wrappedSource.openGroup = async (ns, group) => {
    const reader = await source.openGroup(ns, group);
    const wrapped: SourceGroupReader = Object.create(reader);
    wrapped.readManifest = (time) => {
      events.push(`manifest ${t(time)}`);
      return reader.readManifest(time);
    };
    wrapped.readArchive = (time, name) => {
      events.push(`archive ${t(time)} ${name}`);
      return reader.readArchive(time, name);
    };
    wrapped.fetchChunks = (digests, onChunk, sizes) => {
      events.push('chunks');
      asked.push({ at: events.length - 1, digests });
      return reader.fetchChunks(digests, onChunk, sizes);
    };
    return wrapped;
  };
  const wrappedTarget: SyncTarget = Object.create(target);
  wrappedTarget.openGroup = async (...args) => {
    const writer = await target.openGroup(...args);
    const wrapped = Object.create(writer);
    wrapped.beginSnapshot = async (time: number, mode: 'pull' | 'push') => {
      const snapshot = await writer.beginSnapshot(time, mode);
      const inner = Object.create(snapshot);
      inner.commit = async (manifest: Buffer) => {
        await snapshot.commit(manifest);
        events.push(`commit ${t(time)}`);
      };
      return inner;
    };
    return wrapped;
  };
  return { source: wrappedSource, target: wrappedTarget };
}

/** A pull of group vm/100 between two root namespaces, as the coordinator would hand it to a thread. */
function pullOfVm100(source: SyncSource, target: SyncTarget, lines: string[] = []): GroupJob {
  return {
    source,
    target,
    sourceNs: parseNamespace(''),
    targetNs: parseNamespace(''),
    group: makeGroup('vm', '100'),
    owner: parseAuthId('root@pam'),
    jobToken: 7,
    rules: {
      direction: 'pull',
      transferLast: undefined,
      verifiedOnly: false,
      encryptedOnly: false,
      removeVanished: false,
      resyncCorrupt: false,
    },
    transfer: DEFAULT_TRANSFER,
    claims: ChunkClaims.attach(ChunkClaims.createBuffer(), 1),
    progress: ProgressCounters.create(1),
    slot: 0,
    log: { info: (m) => lines.push(m), warn: (m) => lines.push(m) },
    clock: SYSTEM_CLOCK,
    signal: new AbortController().signal,
  };
}

test('a group asks for the next snapshot’s files while the current one moves, and for all archives of a snapshot at once', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/100'], snapshots: 3 });
  const events: string[] = [];
  const { source: local, target: localTarget } = await w.endpoints();
  const { source, target } = recording(local, localTarget, events);
  const lines: string[] = [];
  const result = await syncGroup(pullOfVm100(source, target, lines));
  assert.equal(result.snapshotsSynced, 3);
  const hours = [0, 1, 2].map((h) => formatBackupTime(BASE_TIME + h * 3600).slice(11, 13));
  const at = (e: string) => {
    const i = events.indexOf(e);
    assert.ok(i >= 0, `${e} in ${events.join(', ')}`);
    return i;
  };
  for (const [i, h] of hours.entries()) {
    // Both archives are asked for before any chunk moves: one round trip for the snapshot's files.
    const archives = [at(`archive ${h} drive-scsi0.img.fidx`), at(`archive ${h} qemu.conf.blob`)].sort(
      (a, b) => a - b,
    );
    assert.ok(
      !events.slice(...archives).includes('chunks'),
      `archives of ${h} together: ${events.join(', ')}`,
    );
    assert.ok((archives[1] as number) < at(`commit ${h}`));
    const next = hours[i + 1];
    if (next !== undefined) {
      assert.ok(
        at(`manifest ${next}`) < at(`commit ${h}`),
        `snapshot ${next}'s manifest is asked for before ${h} is published: ${events.join(', ')}`,
      );
    }
  }
  assert.equal(events.filter((e) => e.startsWith('manifest')).length, 3, 'each manifest once');
  const report = await verifyDatastore(w.target, { pool: w.pool, log, taskId: 't' });
  assert.deepEqual(report.problems, []);
});

test('a first sync opens the source reader while the snapshot listing is on its way; an up-to-date group opens none', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/100'], snapshots: 1 });
  const { source: local, target } = await w.endpoints();
  const run = async () => {
    const events: string[] = [];
    // The listing answers only once the reader was asked for, or after 500 ms.
    const opened = signalOrLate();
    const source: SyncSource = Object.create(local);
    source.listSnapshots = async (ns, group) => {
      events.push('list asked');
      await opened.reached;
      events.push('list answered');
      return local.listSnapshots(ns, group);
    };
    source.openGroup = async (ns, group) => {
      events.push('reader opened');
      opened.signal();
      return local.openGroup(ns, group);
    };
    const result = await syncGroup(pullOfVm100(source, target));
    return { events, result };
  };
  const first = await run();
  assert.equal(first.result.snapshotsSynced, 1);
  assert.deepEqual(first.events, ['list asked', 'reader opened', 'list answered']);
  const again = await run();
  assert.equal(again.result.snapshotsSynced, 0, 'nothing new to sync');
  assert.deepEqual(again.events, ['list asked', 'list answered'], 'an up-to-date group opens no reader');
});

/** The chunk digests of each snapshot's disk image in a datastore, oldest snapshot first. */
async function imageDigests(ds: Datastore, group: string, count: number): Promise<Set<string>[]> {
  const out: Set<string>[] = [];
  for (let s = 0; s < count; s++) {
    const bytes = await ds.readArchive(
      parseNamespace(''),
      { group: parseGroup(group), time: BASE_TIME + s * 3600 },
      'drive-scsi0.img.fidx' as ArchiveName,
    );
    const index = parseArchiveIndex('fidx', bytes);
    out.push(new Set(Array.from({ length: index.count }, (_, i) => index.digestAt(i))));
  }
  return out;
}

test("a snapshot's new chunks are asked for before the snapshot before it is published, and counted as its own", async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/100'], snapshots: 3 });
  const events: string[] = [];
  const asked: { at: number; digests: readonly string[] }[] = [];
  const { source: local, target: localTarget } = await w.endpoints();
  const { source, target } = recording(local, localTarget, events, asked);
  const lines: string[] = [];
  const result = await syncGroup(pullOfVm100(source, target, lines));
  assert.equal(result.snapshotsSynced, 3);
  const snaps = await imageDigests(w.source, 'vm/100', 3);
  for (let s = 1; s < 3; s++) {
    const fresh = [...(snaps[s] as Set<string>)].filter((d) => !snaps[s - 1]?.has(d));
    assert.equal(fresh.length, 1, 'the fixture changes one block per snapshot');
    const requested = asked.filter((a) => a.digests.includes(fresh[0] as string));
    assert.equal(requested.length, 1, `snapshot ${s}'s new chunk is asked for once`);
    const published = events.indexOf(`commit ${formatBackupTime(BASE_TIME + (s - 1) * 3600).slice(11, 13)}`);
    assert.ok(
      (requested[0]?.at as number) < published,
      `snapshot ${s}'s new chunk is asked for before snapshot ${s - 1} is published: ${events.join(', ')}`,
    );
    // The per-archive line stays honest: the chunk fetched ahead is counted where it is used, not reused.
    const hour = formatBackupTime(BASE_TIME + s * 3600);
    assert.ok(
      lines.some((l) => l.startsWith(`${hour}/drive-scsi0.img.fidx: 3 chunks, 1 fetched`)),
      lines.join('\n'),
    );
  }
  const report = await verifyDatastore(w.target, { pool: w.pool, log, taskId: 't' });
  assert.deepEqual(report.problems, []);
});

test('a chunk fetched ahead that fails verification fails only the snapshot that needs it, in its own context', async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/100'], snapshots: 2 });
  const [first, second] = await imageDigests(w.source, 'vm/100', 2);
  const fresh = [...(second as Set<string>)].find((d) => !first?.has(d)) as string;
  await writeFile(w.source.layout.chunkPath(fresh as Digest), Buffer.from('garbage'));
  const { source, target } = await w.endpoints();
  await assert.rejects(syncGroup(pullOfVm100(source, target)), (err: Error) =>
    err.message.startsWith(
      `snapshot ${formatBackupTime(BASE_TIME + 3600)}: archive drive-scsi0.img.fidx: chunk `,
    ),
  );
  const kept = await w.target.listSnapshots(parseNamespace(''), parseGroup('vm/100'));
  assert.deepEqual(
    kept.filter((s) => s.finished).map((s) => s.snapshot.time),
    [BASE_TIME],
    'the snapshot before it is published whole',
  );
});
