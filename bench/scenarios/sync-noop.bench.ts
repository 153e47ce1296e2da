/**
 * sync-noop: re-sync of 100 groups × 10 unchanged snapshots (a nightly job with nothing new). The simulator counts
 * the HTTP requests; Ferry answers the "is the newest snapshot still the same?" check from the snapshot list
 * (protected-csum), so a group costs one request. Target: ≤ 3 requests per group.
 */
import { rm } from 'node:fs/promises';
import { formatTable, writeResults } from '../results.js';
import type { Scenario } from '../scenario.js';
import { freshStore, runBenchSync, startLink, startSyncWorld } from '../sync-world.js';

const KIB = 1024;

export const syncNoop: Scenario = {
  describe:
    're-sync of 100 groups × 10 unchanged snapshots: requests per group (target ≤ 3) and time, at 0 and 50 ms',
  async run({ quick }) {
    const workload = quick
      ? { groups: 20, snapshots: 5, imageBytes: 64 * KIB, shared: 0 }
      : { groups: 100, snapshots: 10, imageBytes: 64 * KIB, shared: 0 };
    process.stdout.write(`building the source: ${JSON.stringify(workload)}\n`);
    const world = await startSyncWorld(workload);
    const rows: Record<string, number | string>[] = [];
    try {
      const target = await freshStore(world, 'noop-target');
      const first = await startLink(world, 0, 4 * 1024 * 1024);
      await runBenchSync({ world, link: first, direction: 'pull', localPath: target, workerThreads: 4 });
      await first.close();
      for (const rttMs of [0, 50]) {
        for (const threads of quick ? [4] : [1, 4, 8]) {
          const link = await startLink(world, rttMs, 4 * 1024 * 1024);
          const r = await runBenchSync({
            world,
            link,
            direction: 'pull',
            localPath: target,
            workerThreads: threads,
          });
          const requests = link.stats().httpRequests;
          await link.close();
          if (r.summary.chunks.fetched !== 0)
            throw new Error(`a no-op re-sync fetched ${r.summary.chunks.fetched} chunks`);
          rows.push({
            rttMs,
            threads,
            groups: r.summary.groups.total,
            'unchanged snapshots': r.summary.snapshots.unchanged,
            requests,
            'requests/group': requests / r.summary.groups.total,
            seconds: r.seconds,
          });
        }
      }
      await rm(target, { recursive: true, force: true });
      process.stdout.write(`\n${formatTable(rows)}\n`);
      const worst = Math.max(...rows.map((r) => r['requests/group'] as number));
      process.stdout.write(`worst: ${worst.toFixed(2)} requests per group (target ≤ 3)\n`);
      const path = await writeResults('sync-noop', { workload, rows, worstRequestsPerGroup: worst });
      process.stdout.write(`results: ${path}\n`);
    } finally {
      await world.close();
    }
  },
};
