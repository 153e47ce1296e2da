/**
 * memory: peak RSS of `ferry pull` (the whole process, worker threads included) against worker-threads and against
 * datastore size. Target: ≤ 150 MiB + 40 MiB per worker thread, and no growth with the datastore's size.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { formatTable, writeResults } from '../results.js';
import type { Scenario } from '../scenario.js';
import { addHttpRemote, ferryJson, startLink, startSyncWorld } from '../sync-world.js';

const MIB = 1024 * 1024;

export const memory: Scenario = {
  describe:
    'peak RSS of ferry pull vs worker-threads and datastore size (target ≤ 150 MiB + 40 MiB per thread)',
  async run({ quick }) {
    const sizes = quick
      ? [{ groups: 4, snapshots: 2, imageBytes: 32 * MIB }]
      : [
          { groups: 8, snapshots: 2, imageBytes: 64 * MIB },
          { groups: 16, snapshots: 2, imageBytes: 128 * MIB },
        ];
    const threadCounts = quick ? [1, 4] : [1, 4, 8, 16];
    const rows: Record<string, number | string>[] = [];
    for (const workload of sizes) {
      process.stdout.write(`building the source: ${JSON.stringify(workload)}\n`);
      const world = await startSyncWorld(workload);
      try {
        const link = await startLink(world, 0, 4 * MIB);
        const home = join(world.dir, 'client-home');
        await mkdir(home, { recursive: true });
        await addHttpRemote(home, 'bench', link.port, world.reader);
        for (const threads of threadCounts) {
          const store = `mem${threads}`;
          await ferryJson(home, ['datastore', 'create', store, join(world.dir, store)]);
          const s = await ferryJson<{
            peakRssBytes: number;
            bytes: { fetched: number };
            wallSeconds: number;
          }>(home, ['pull', 'bench', 'source', store, '--worker-threads', String(threads), '--no-progress']);
          const limit = 150 * MIB + 40 * MIB * threads;
          rows.push({
            'stored MiB': world.workload.storedBytes / MIB,
            threads,
            'peak RSS MiB': s.peakRssBytes / MIB,
            'limit MiB': limit / MIB,
            within: s.peakRssBytes <= limit ? 'yes' : 'NO',
            'fetched MiB': s.bytes.fetched / MIB,
            seconds: s.wallSeconds,
          });
          process.stdout.write(`${threads} thread(s): ${(s.peakRssBytes / MIB).toFixed(0)} MiB peak RSS\n`);
          await ferryJson(home, ['datastore', 'remove', store, '--destroy-data']);
        }
        await link.close();
        await rm(home, { recursive: true, force: true });
      } finally {
        await world.close();
      }
    }
    process.stdout.write(`\n${formatTable(rows)}\n`);
    const path = await writeResults('memory', { rows });
    process.stdout.write(`results: ${path}\n`);
  },
};
