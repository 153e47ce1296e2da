/**
 * A two-datastore world for sync tests (source and target on this host) and a pull between them through the real
 * coordinator and worker threads.
 */
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { LogLine } from '../../src/log/index.js';
import { SYSTEM_CLOCK } from '../../src/model/index.js';
import { Datastore } from '../../src/store/index.js';
import { EndpointOpener, runSync, type SyncSummary } from '../../src/sync/index.js';
import { syncJob } from './fixtures.js';
import { log, makePool, tempDir } from './world.js';

export async function localSyncWorld(t: TestContext) {
  const dir = await tempDir(t);
  const source = await Datastore.create(join(dir, 'source'));
  const target = await Datastore.create(join(dir, 'target'));
  t.after(() => source.close());
  t.after(() => target.close());
  const opener = new EndpointOpener(SYSTEM_CLOCK, log);
  t.after(() => opener.close());
  /** The source and target endpoints a thread would open for a local pull; closed after the test. */
  const endpoints = async () => {
    const opened = {
      source: await opener.source({ kind: 'local', store: 'source', path: source.path }),
      target: await opener.target({ kind: 'local', store: 'target', path: target.path }),
    };
    t.after(() => opened.target.close());
    t.after(() => opened.source.close());
    return opened;
  };
  return { dir, source, target, pool: makePool(t), opener, endpoints };
}

export type LocalSyncWorld = Awaited<ReturnType<typeof localSyncWorld>>;

/** Pulls source → target with job keys `values`; lines come back as `[group] message` (job lines bare). */
export async function localPull(
  w: LocalSyncWorld,
  values: Record<string, unknown> = {},
): Promise<{ summary: SyncSummary; lines: string[]; raw: LogLine[] }> {
  const raw: LogLine[] = [];
  const summary = await runSync({
    job: syncJob(values),
    source: { kind: 'local', store: 'source', path: w.source.path },
    target: { kind: 'local', store: 'target', path: w.target.path },
    opener: w.opener,
    clock: SYSTEM_CLOCK,
    sink: (run) => raw.push(...run),
  });
  return { summary, raw, lines: raw.map((l) => (l.label ? `[${l.label}] ${l.msg}` : l.msg)) };
}
