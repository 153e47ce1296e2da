/**
 * `npm run demo`: Ferry's main job on an embedded default world, in temporary homes removed at the end.
 *
 *   site A: a datastore with 8 groups of VM backups (≈ 256 MiB of images), served by `ferry serve` on loopback;
 *   the WAN: the simulator in front of it, 50 ms round trip, 4 MiB in flight per connection;
 *   site B: pulls everything with `ferry pull`, once with worker-threads 1 and once with 4, into two datastores;
 *   then both summaries side by side, and `ferry verify` of what arrived.
 *
 * Every step is the real CLI in a subprocess (`--quick`: a smaller world, used by the test suite).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBytes } from '../src/model/index.js';
import { ChunkPool, Datastore } from '../src/store/index.js';
import { FERRY_BIN } from './paths.js';
import { formatTable } from './results.js';
import { addHttpRemote, ferryJson, startServerProcess } from './sync-world.js';
import { startWanSimulator } from './wan-simulator.js';
import { buildDatastore } from './workload.js';

const FERRY = FERRY_BIN;
const MIB = 1024 * 1024;
const RTT_MS = 50;
const WINDOW = 4 * MIB;

interface Summary {
  groups: { total: number; ok: number; failed: number };
  snapshots: { synced: number };
  chunks: { fetched: number; reused: number };
  bytes: { fetched: number; reused: number };
  wallSeconds: number;
  bytesPerSecond: number;
  task: string;
}

function step(title: string): void {
  process.stdout.write(`\n=== ${title}\n`);
}

/** Runs the CLI with its output on this terminal (progress on stderr); returns the JSON summary line. */
async function ferryLive<T>(home: string, args: string[]): Promise<T> {
  process.stdout.write(`$ ferry ${args.join(' ')}\n`);
  const child = spawn(FERRY, [...args, '--output-format', 'json'], {
    env: { ...process.env, FERRY_HOME: home },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  if (code !== 0) throw new Error(`ferry ${args[0]} exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1) ?? 'null') as T;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'ferry-demo-'));
  const siteA = join(dir, 'site-a-home');
  const siteB = join(dir, 'site-b-home');
  await mkdir(siteA);
  await mkdir(siteB);
  let stopServer: (() => Promise<void>) | undefined;
  try {
    const workload = quick
      ? { groups: 4, snapshots: 2, imageBytes: 8 * MIB, withTree: true }
      : { groups: 8, snapshots: 2, imageBytes: 16 * MIB, withTree: true };
    step(
      `site A: ${workload.groups} groups × ${workload.snapshots} snapshots of ${workload.imageBytes / MIB} MiB images (random, text and zero blocks)`,
    );
    await ferryJson(siteA, ['datastore', 'create', 'site-a', join(dir, 'site-a')]);
    const pool = new ChunkPool();
    const ds = await Datastore.open(join(dir, 'site-a'));
    const built = await buildDatastore(ds, pool, dir, workload);
    const stored = [...ds.chunks.index.entries()].reduce((sum, [, e]) => sum + e.encodedSize, 0);
    await ds.close();
    await pool.destroy();
    process.stdout.write(
      `${formatBytes(built.logicalBytes)} of images, ${formatBytes(stored)} stored after dedup and compression\n`,
    );
    const token = await ferryJson<{ secret: string }>(siteA, ['token', 'create', 'sync@pbs!site-b']);
    await ferryJson(siteA, ['acl', 'set', '/datastore/site-a', 'sync@pbs!site-b', 'reader']);
    const server = await startServerProcess(siteA);
    stopServer = server.stop;
    const url = new URL(server.url);

    step(
      `the WAN: ${RTT_MS} ms round trip, ${WINDOW / MIB} MiB in flight per connection, in front of ${server.url}`,
    );
    const link = await startWanSimulator({
      target: { host: url.hostname, port: Number(url.port) },
      oneWayDelayMs: RTT_MS / 2,
      windowBytes: WINDOW,
      countHttpRequests: true,
    });
    try {
      step('site B: a remote for site A, two empty datastores');
      await addHttpRemote(siteB, 'site-a', link.port, { authId: 'sync@pbs!site-b', secret: token.secret });
      await ferryJson(siteB, ['datastore', 'create', 'one-thread', join(dir, 'site-b-1')]);
      await ferryJson(siteB, ['datastore', 'create', 'four-threads', join(dir, 'site-b-4')]);

      const runs: [string, number, Summary][] = [];
      for (const [store, threads] of [
        ['one-thread', 1],
        ['four-threads', 4],
      ] as const) {
        step(`pull site A → site B with worker-threads ${threads}`);
        link.resetStats();
        const summary = await ferryLive<Summary>(siteB, [
          'pull',
          'site-a',
          'site-a',
          store,
          '--worker-threads',
          String(threads),
        ]);
        runs.push([store, link.stats().httpRequests, summary]);
      }

      step('both summaries');
      const rows = runs.map(([store, requests, s]) => ({
        'worker-threads': store === 'one-thread' ? 1 : 4,
        groups: `${s.groups.ok}/${s.groups.total}`,
        snapshots: s.snapshots.synced,
        'chunks fetched': s.chunks.fetched,
        'chunks reused': s.chunks.reused,
        fetched: formatBytes(s.bytes.fetched),
        'wall s': s.wallSeconds,
        rate: `${formatBytes(s.bytesPerSecond)}/s`,
        'HTTP requests': requests,
      }));
      process.stdout.write(`${formatTable(rows)}\n`);
      const [one, four] = runs.map(([, , s]) => s.wallSeconds);
      if (one !== undefined && four !== undefined) {
        process.stdout.write(
          `\nworker-threads 4 finished ${(one / four).toFixed(1)}× faster than 1 over the same ${RTT_MS} ms link\n`,
        );
      }
      step('verify what arrived');
      await ferryJson(siteB, ['verify', 'four-threads']);
      process.stdout.write('site B verified every chunk: ok\n');
    } finally {
      await link.close();
    }
  } finally {
    await stopServer?.();
    await rm(dir, { recursive: true, force: true });
    process.stdout.write(
      `\ndemo done in ${((performance.now() - started) / 1000).toFixed(0)} s (temporary homes removed)\n`,
    );
  }
}

await main();
