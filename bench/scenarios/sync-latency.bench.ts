/**
 * sync-latency: pull and push throughput through the WAN simulator, against worker-threads and round-trip time,
 * W = 4 MiB per connection; next to `rclone sync --transfers 16` of the raw source datastore over plain HTTP through
 * the same simulator. Throughput is bytes moved divided by the job's wall time. Every timed run, Ferry's and
 * rclone's, starts after `recyclePages` (measure.ts), so each writes into memory in the same state.
 * Targets: at 50 ms the best worker-threads setting pulls at ≥ 80% of its own 0 ms throughput, and ≥ 1.0 × rclone.
 * The sweep runs each setting once; the verdict then runs its two best settings at 50 ms (one with --quick) at 0 and
 * 50 ms, and rclone at 50 ms, in rounds that take turns (3, or 1 with --quick), and compares medians.
 */
import { spawn } from 'node:child_process';
import { type AddressInfo, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { flushDirty, median, recyclePages, runCommand, setAside, treeBytes } from '../measure.js';
import { formatTable, writeResults } from '../results.js';
import type { Scenario } from '../scenario.js';
import { lineChartSvg } from '../svg-chart.js';
import {
  freshStore,
  resetRemoteTarget,
  runBenchSync,
  type SyncWorld,
  startLink,
  startSyncWorld,
} from '../sync-world.js';
import { startWanSimulator } from '../wan-simulator.js';

const MIB = 1024 * 1024;
const WINDOW = 4 * MIB;

interface Row {
  direction: 'pull' | 'push' | 'rclone';
  rttMs: number;
  threads: number | string;
  seconds: number;
  mibPerSecond: number;
  requests: number;
  connections: number;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        done(true);
      });
      socket.on('error', () => done(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

async function hasRclone(): Promise<boolean> {
  return new Promise((done) => {
    const child = spawn('rclone', ['version'], { stdio: 'ignore' });
    child.on('error', () => done(false));
    child.on('close', (code) => done(code === 0));
  });
}

/** `rclone sync` of the raw source directory, served by `rclone serve http`, through a simulator at `rttMs`. */
async function rcloneRun(world: SyncWorld, rttMs: number): Promise<Row> {
  // rclone 1.60 does not report the port it got for :0, so pick a free one first.
  const port = await freePort();
  const serve = spawn(
    'rclone',
    ['serve', 'http', world.sourcePath, '--addr', `127.0.0.1:${port}`, '--read-only'],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
    },
  );
  await waitForPort(port);
  const link = await startWanSimulator({
    target: { host: '127.0.0.1', port },
    oneWayDelayMs: rttMs / 2,
    windowBytes: WINDOW,
    countHttpRequests: true,
  });
  const dest = join(world.dir, 'rclone-copy');
  try {
    await recyclePages(world.dir, world.workload.storedBytes);
    const started = performance.now();
    await runCommand(
      'rclone',
      [
        'sync',
        ':http:',
        dest,
        '--http-url',
        `http://127.0.0.1:${link.port}`,
        '--transfers',
        '16',
        '--checkers',
        '16',
        // No config file is needed (the :http: remote is given inline); naming none keeps rclone from printing a
        // notice that it found none into the bench's output.
        '--config',
        '/dev/null',
      ],
      true,
    );
    const seconds = (performance.now() - started) / 1000;
    const bytes = await treeBytes(dest);
    const stats = link.stats();
    return {
      direction: 'rclone',
      rttMs,
      threads: '16 transfers',
      seconds,
      mibPerSecond: bytes / MIB / seconds,
      requests: stats.httpRequests,
      connections: stats.connections,
    };
  } finally {
    await link.close();
    serve.kill('SIGTERM');
    await setAside(dest);
    // rclone leaves its copy in the page cache, unflushed: written back now, not during the next run (untimed).
    await flushDirty();
  }
}

/** One pull (into a fresh local store) or push (into the reset remote target) through a new simulator link. */
async function ferryRun(
  world: SyncWorld,
  direction: 'pull' | 'push',
  rttMs: number,
  threads: number,
): Promise<Row> {
  if (direction === 'push') await resetRemoteTarget(world);
  const link = await startLink(world, rttMs, WINDOW);
  const localPath = direction === 'pull' ? await freshStore(world, 'pull-target') : world.sourcePath;
  try {
    await recyclePages(world.dir, world.workload.storedBytes);
    const r = await runBenchSync({ world, link, direction, localPath, workerThreads: threads });
    const stats = link.stats();
    return {
      direction,
      rttMs,
      threads,
      seconds: r.seconds,
      mibPerSecond: r.mibPerSecond,
      requests: stats.httpRequests,
      connections: stats.connections,
    };
  } finally {
    await link.close();
    if (direction === 'pull') await setAside(localPath);
  }
}

export const syncLatency: Scenario = {
  describe:
    'pull/push MiB/s vs worker-threads and RTT (W = 4 MiB) through the WAN simulator, with rclone as the peer',
  async run({ quick, args }) {
    const rtts = quick ? [0, 50] : [0, 25, 50, 100];
    const threadCounts = quick ? [1, 4] : [1, 2, 4, 8, 16];
    const verdictRounds = quick ? 1 : 3;
    const directions: ('pull' | 'push')[] = args.includes('--pull-only') ? ['pull'] : ['pull', 'push'];
    const workload = quick
      ? { groups: 4, snapshots: 2, imageBytes: 48 * MIB }
      : { groups: 8, snapshots: 2, imageBytes: 128 * MIB };
    process.stdout.write(`building the source: ${JSON.stringify(workload)}\n`);
    const world = await startSyncWorld(workload);
    const rows: Row[] = [];
    try {
      process.stdout.write(
        `source: ${world.workload.chunks} chunks, ${(world.workload.storedBytes / MIB).toFixed(0)} MiB stored (${(world.workload.logicalBytes / MIB).toFixed(0)} MiB of images)\n`,
      );
      for (const direction of directions) {
        for (const rttMs of rtts) {
          for (const threads of threadCounts) {
            const row = await ferryRun(world, direction, rttMs, threads);
            rows.push(row);
            process.stdout.write(
              `${direction} rtt ${rttMs} ms, ${threads} thread(s): ${row.mibPerSecond.toFixed(1)} MiB/s in ${row.seconds.toFixed(1)} s\n`,
            );
          }
        }
      }
      const rclone = await hasRclone();
      if (rclone) {
        for (const rttMs of rtts) rows.push(await rcloneRun(world, rttMs));
      } else process.stdout.write('rclone is not installed (apt install rclone): no peer in this run\n');
      process.stdout.write(
        `\n${formatTable(
          rows.map((r) => ({ ...r, 'MiB/s': r.mibPerSecond, mibPerSecond: undefined })),
          ['direction', 'rttMs', 'threads', 'seconds', 'MiB/s', 'requests', 'connections'],
        )}\n`,
      );
      const pullAt = (rtt: number, threads: number) =>
        rows.find((r) => r.direction === 'pull' && r.rttMs === rtt && r.threads === threads)?.mibPerSecond ??
        0;
      // The sweep runs each setting once, and this machine's noise is several per cent, so the best of five single
      // runs is often a lucky one. The verdict takes the sweep's two best settings at 50 ms (one with --quick) and
      // runs each at 0 and 50 ms, and rclone at 50 ms, in rounds that take turns; the best setting is the one with
      // the higher median at 50 ms, and its medians are compared with its own 0 ms rate and with rclone's.
      const candidates = [...threadCounts]
        .sort((a, b) => pullAt(50, b) - pullAt(50, a))
        .slice(0, quick ? 1 : 2);
      const perCandidate = new Map(
        candidates.map((n) => [n, { pullAt0: [] as number[], pullAt50: [] as number[] }]),
      );
      const rcloneRounds: number[] = [];
      for (let round = 0; round < verdictRounds; round++) {
        for (const [threads, r] of perCandidate) {
          r.pullAt0.push((await ferryRun(world, 'pull', 0, threads)).mibPerSecond);
          r.pullAt50.push((await ferryRun(world, 'pull', 50, threads)).mibPerSecond);
        }
        if (rclone) rcloneRounds.push((await rcloneRun(world, 50)).mibPerSecond);
      }
      const candidateMedians = candidates.map((threads) => {
        const r = perCandidate.get(threads) as { pullAt0: number[]; pullAt50: number[] };
        return { threads, pullAt50: median(r.pullAt50), pullAt0: median(r.pullAt0), perRound: r };
      });
      const best = candidateMedians.reduce((a, b) => (b.pullAt50 > a.pullAt50 ? b : a));
      const bestThreads = best.threads;
      const rounds = { ...best.perRound, rcloneAt50: rcloneRounds };
      const pullAt50 = best.pullAt50;
      const pullAt0 = best.pullAt0;
      const rcloneAt50 = rclone ? median(rcloneRounds) : undefined;
      const ratioToRclone = rcloneAt50 === undefined ? undefined : pullAt50 / rcloneAt50;
      const verdict = {
        bestThreadsAt50: bestThreads,
        rounds: verdictRounds,
        pullAt50,
        pullAt0SameThreads: pullAt0,
        ratioTo0: pullAt50 / Math.max(pullAt0, 1e-9),
        rcloneAt50,
        ratioToRclone,
        perRound: rounds,
        candidates: candidateMedians,
      };
      const vsRclone =
        ratioToRclone === undefined
          ? ''
          : `, rclone ${rcloneAt50?.toFixed(1)} MiB/s: ${ratioToRclone.toFixed(2)} × rclone (target ≥ 1.0)`;
      process.stdout.write(
        `\ncandidates (the sweep's best at 50 ms), medians at 50 / 0 ms: ${candidateMedians.map((c) => `${c.threads} thread(s) ${c.pullAt50.toFixed(1)} / ${c.pullAt0.toFixed(1)} MiB/s`).join('; ')}` +
          `\nbest at 50 ms: ${bestThreads} thread(s); medians of ${verdictRounds} round(s) taking turns: ${pullAt50.toFixed(1)} MiB/s = ${(verdict.ratioTo0 * 100).toFixed(0)}% of its 0 ms rate (target ≥ 80%)${vsRclone}\n`,
      );
      const series = directions.flatMap((direction) =>
        rtts.map((rtt) => ({
          name: `${direction} ${rtt} ms`,
          points: threadCounts.map((n) => ({
            x: n,
            y:
              rows.find((r) => r.direction === direction && r.rttMs === rtt && r.threads === n)
                ?.mibPerSecond ?? 0,
          })),
        })),
      );
      const svg = lineChartSvg({
        title: `Ferry throughput through the WAN simulator (W = 4 MiB per connection)`,
        xLabel: 'worker-threads',
        yLabel: 'MiB/s (bytes moved / wall time)',
        series,
        referenceLines: rows
          .filter((r) => r.direction === 'rclone')
          .map((r) => ({ name: `rclone --transfers 16, ${r.rttMs} ms`, y: r.mibPerSecond })),
        logX: true,
      });
      const path = await writeResults(
        'sync-latency',
        { workload, source: world.workload, window: WINDOW, rows, verdict },
        { svg },
      );
      process.stdout.write(`results: ${path}\n`);
    } finally {
      await world.close();
    }
  },
};
