/**
 * migration: copy a whole datastore to a new local one with `ferry pull` (every chunk verified on the way: CRC,
 * decompression, SHA-256, length) next to `cp -a` of the same directory, in the same run. Target: ≥ 0.5 × cp -a.
 * The source is read into the page cache once before the rounds, and every timed run starts after `recyclePages`,
 * so cp and Ferry write into memory in the same state (see measure.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toSyncJob } from '../../src/config/index.js';
import { silentLogger } from '../../src/log/index.js';
import { SYSTEM_CLOCK } from '../../src/model/index.js';
import { ChunkPool, Datastore } from '../../src/store/index.js';
import { EndpointOpener, runSync } from '../../src/sync/index.js';
import { flushDirty, median, recyclePages, runCommand, setAside, treeBytes } from '../measure.js';
import { formatTable, writeResults } from '../results.js';
import type { Scenario } from '../scenario.js';
import { buildDatastore } from '../workload.js';

const MIB = 1024 * 1024;

async function timeCp(from: string, to: string): Promise<number> {
  const started = performance.now();
  await runCommand('cp', ['-a', from, to]);
  await flushDirty();
  return (performance.now() - started) / 1000;
}

export const migration: Scenario = {
  describe:
    'local datastore → new local datastore with ferry pull (verifying every chunk) vs cp -a (target ≥ 0.5×)',
  async run({ quick }) {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-migration-'));
    const pool = new ChunkPool();
    try {
      const source = await Datastore.create(join(dir, 'source'));
      const workload = quick
        ? { groups: 4, snapshots: 2, imageBytes: 64 * MIB }
        : { groups: 8, snapshots: 3, imageBytes: 192 * MIB };
      process.stdout.write(`building the source: ${JSON.stringify(workload)}\n`);
      await buildDatastore(source, pool, dir, workload);
      await source.close();
      await pool.destroy();
      const bytes = await treeBytes(join(dir, 'source'));
      const threadCounts = quick ? [4] : [1, 2, 4, 8];
      const rounds = quick ? 1 : 3;
      const cpTimes: number[] = [];
      const ferryTimes = new Map<number, number[]>(threadCounts.map((n) => [n, []]));
      // Untimed: reads the source into the page cache, where every timed run then finds it.
      await timeCp(join(dir, 'source'), join(dir, 'cp-copy'));
      await setAside(join(dir, 'cp-copy'));
      for (let round = 0; round < rounds; round++) {
        await recyclePages(dir, bytes);
        cpTimes.push(await timeCp(join(dir, 'source'), join(dir, 'cp-copy')));
        await setAside(join(dir, 'cp-copy'));
        for (const threads of threadCounts) {
          const target = await Datastore.create(join(dir, 'target'));
          await target.close();
          await recyclePages(dir, bytes);
          const opener = new EndpointOpener(SYSTEM_CLOCK, silentLogger());
          const started = performance.now();
          const summary = await runSync({
            job: toSyncJob('migration', {
              store: 'target',
              'remote-store': 'source',
              'worker-threads': threads,
            }),
            source: { kind: 'local', store: 'source', path: join(dir, 'source') },
            target: { kind: 'local', store: 'target', path: join(dir, 'target') },
            opener,
            clock: SYSTEM_CLOCK,
            sink: () => undefined,
          });
          ferryTimes.get(threads)?.push((performance.now() - started) / 1000);
          await opener.close();
          if (summary.groups.failed > 0)
            throw new Error(`migration failed: ${JSON.stringify(summary.failed)}`);
          await setAside(join(dir, 'target'));
        }
      }
      const cp = median(cpTimes);
      const rows = [
        { method: 'cp -a', 'worker-threads': '-', seconds: cp, 'MiB/s': bytes / MIB / cp, 'vs cp -a': 1 },
        ...threadCounts.map((n) => {
          const s = median(ferryTimes.get(n) ?? []);
          return {
            method: 'ferry pull (verified)',
            'worker-threads': n,
            seconds: s,
            'MiB/s': bytes / MIB / s,
            'vs cp -a': cp / s,
          };
        }),
      ];
      process.stdout.write(
        `\ndatastore: ${(bytes / MIB).toFixed(0)} MiB on disk; medians of ${rounds} round(s)\n${formatTable(rows)}\n`,
      );
      const best = Math.max(...rows.slice(1).map((r) => r['vs cp -a']));
      process.stdout.write(`best ferry / cp -a: ${best.toFixed(2)} (target ≥ 0.5)\n`);
      const path = await writeResults('migration', {
        workload,
        datastoreBytes: bytes,
        rows,
        cpTimes,
        ferryTimes: Object.fromEntries(ferryTimes),
      });
      process.stdout.write(`results: ${path}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
