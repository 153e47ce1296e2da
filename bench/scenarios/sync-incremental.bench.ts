/**
 * sync-incremental: the nightly case. The source gains one snapshot per group with 1% of its blocks changed; the
 * re-sync should move only the new chunks (bytes on the wire close to their stored size) and take little time.
 */
import { rm } from 'node:fs/promises';
import { ChunkPool, Datastore } from '../../src/store/index.js';
import { formatTable, writeResults } from '../results.js';
import type { Scenario } from '../scenario.js';
import { freshStore, runBenchSync, startLink, startServerProcess, startSyncWorld } from '../sync-world.js';
import { buildDatastore } from '../workload.js';

const MIB = 1024 * 1024;

export const syncIncremental: Scenario = {
  describe:
    'pull after a new snapshot with 1% changed blocks per group: bytes moved vs new unique bytes, time at 0/50 ms',
  async run({ quick }) {
    const base = quick ? { groups: 4, imageBytes: 64 * MIB } : { groups: 8, imageBytes: 256 * MIB };
    const workload = { ...base, snapshots: 1, changeRate: 0.01 };
    process.stdout.write(`building the source: ${JSON.stringify(workload)}\n`);
    const world = await startSyncWorld(workload);
    const rows: Record<string, number | string>[] = [];
    try {
      const targets = new Map<number, string>();
      for (const rttMs of [0, 50]) {
        const path = await freshStore(world, `inc-${rttMs}`);
        targets.set(rttMs, path);
        const link = await startLink(world, rttMs, 4 * MIB);
        await runBenchSync({ world, link, direction: 'pull', localPath: path, workerThreads: 4 });
        await link.close();
      }
      // One more snapshot per group, 1% of blocks changed (the server is stopped while its store grows).
      await world.server.stop();
      const before = new Set<string>();
      const ds = await Datastore.open(world.sourcePath);
      for (const [d] of ds.chunks.index.entries()) before.add(d);
      const pool = new ChunkPool();
      await buildDatastore(ds, pool, world.dir, { ...workload, snapshots: 2, fromSnapshot: 1 });
      const added = [...ds.chunks.index.entries()].filter(([d]) => !before.has(d));
      const newBytes = added.reduce((sum, [, e]) => sum + e.encodedSize, 0);
      await ds.close();
      await pool.destroy();
      world.server = await startServerProcess(world.home);
      for (const rttMs of [0, 50]) {
        const link = await startLink(world, rttMs, 4 * MIB);
        const r = await runBenchSync({
          world,
          link,
          direction: 'pull',
          localPath: targets.get(rttMs) as string,
          workerThreads: 4,
        });
        const wire = link.stats();
        await link.close();
        rows.push({
          rttMs,
          'new chunks': added.length,
          'new bytes MiB': newBytes / MIB,
          'fetched chunks': r.summary.chunks.fetched,
          'fetched MiB': r.summary.bytes.fetched / MIB,
          'wire MiB (down)': wire.bytesDown / MIB,
          'wire / new': wire.bytesDown / Math.max(newBytes, 1),
          seconds: r.seconds,
          requests: wire.httpRequests,
        });
      }
      for (const path of targets.values()) await rm(path, { recursive: true, force: true });
      process.stdout.write(`\n${formatTable(rows)}\n`);
      const path = await writeResults('sync-incremental', { workload, rows });
      process.stdout.write(`results: ${path}\n`);
    } finally {
      await world.close();
    }
  },
};
