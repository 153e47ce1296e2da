/**
 * wan-selftest: does the WAN simulator behave like its model? One connection downloads from a local node:http
 * server through the simulator at several round-trip times with a 4 MiB window; the model says throughput is
 * W / RTT; at RTT 0 the figure is the ceiling of the set-up (proxy on this thread, HTTP origin and client on
 * another). Run it after touching bench/wan-simulator.ts.
 */
import { Worker } from 'node:worker_threads';
import { median } from '../measure.js';
import { formatTable, writeResults } from '../results.js';
import type { Scenario, ScenarioRunOptions } from '../scenario.js';
import { lineChartSvg } from '../svg-chart.js';
import { startWanSimulator } from '../wan-simulator.js';
import type { SelftestReply, SelftestRequest } from './wan-selftest.worker.js';

const MIB = 1024 * 1024;
const WINDOW_BYTES = 4 * MIB;
const RTTS_MS = [0, 25, 50, 100] as const;
/** What RTT 0 is assumed to carry when sizing its transfer; only the duration of the run depends on it. */
const ASSUMED_CEILING_BYTES_PER_SEC = 1024 * MIB;

interface Row {
  readonly rttMs: number;
  readonly mib: number;
  readonly seconds: number;
  readonly measuredMiBps: number;
  readonly modelMiBps: number | undefined;
}

/** The origin and the client, in a worker thread (see wan-selftest.worker.ts). */
interface Peer {
  readonly originPort: number;
  download(url: string, bytes: number): Promise<number>;
  close(): Promise<void>;
}

async function startPeer(): Promise<Peer> {
  // Compiled (npm run bench runs dist/), the worker is plain JS beside this file. From source, Node 20 workers do
  // not pick up the tsx loader from `--import tsx`, so the thread starts as plain JS and loads its TypeScript entry
  // through tsx's API.
  const worker = import.meta.url.endsWith('.js')
    ? new Worker(new URL('./wan-selftest.worker.js', import.meta.url))
    : new Worker(
        `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => tsx.tsImport(${JSON.stringify(
          new URL('./wan-selftest.worker.ts', import.meta.url).href,
        )}, ${JSON.stringify(import.meta.url)}));`,
        { eval: true },
      );
  const next = (): Promise<SelftestReply> =>
    new Promise((done, fail) => {
      const onError = (err: Error): void => {
        worker.off('message', onMessage);
        fail(err);
      };
      const onMessage = (message: SelftestReply): void => {
        worker.off('error', onError);
        done(message);
      };
      worker.once('message', onMessage);
      worker.once('error', onError);
    });
  const first = await next();
  if (first.type !== 'listening') {
    await worker.terminate();
    throw new Error(`wan-selftest worker did not start: ${JSON.stringify(first)}`);
  }
  return {
    originPort: first.port,
    download: async (url, bytes) => {
      const request: SelftestRequest = { type: 'download', url, bytes };
      const replied = next();
      worker.postMessage(request);
      const reply = await replied;
      if (reply.type === 'downloaded') return reply.seconds;
      throw new Error(reply.type === 'failed' ? reply.message : `unexpected reply ${reply.type}`);
    },
    close: async () => {
      await worker.terminate();
    },
  };
}

async function measure(peer: Peer, rttMs: number, options: ScenarioRunOptions): Promise<Row> {
  const simulator = await startWanSimulator({
    target: { host: '127.0.0.1', port: peer.originPort },
    oneWayDelayMs: rttMs / 2,
    windowBytes: WINDOW_BYTES,
  });
  try {
    const targetSeconds = options.quick ? 1 : 4;
    const rate = rttMs === 0 ? ASSUMED_CEILING_BYTES_PER_SEC : WINDOW_BYTES / (rttMs / 1000);
    // Whole windows less room for the response head: the head then rides in the first window, the transfer
    // takes exactly k round trips in the model, and the comparison with W/RTT is not skewed by a last
    // window holding a few hundred bytes.
    const windows = Math.max(2, Math.round((rate * targetSeconds) / WINDOW_BYTES));
    const bytes = windows * WINDOW_BYTES - 64 * 1024;
    const repeats = options.quick ? 1 : 3;
    const seconds: number[] = [];
    for (let i = 0; i < repeats; i++) seconds.push(await peer.download(simulator.url, bytes));
    const s = median(seconds);
    return {
      rttMs,
      mib: Math.round((bytes / MIB) * 100) / 100,
      seconds: s,
      measuredMiBps: bytes / MIB / s,
      modelMiBps: rttMs === 0 ? undefined : WINDOW_BYTES / MIB / (rttMs / 1000),
    };
  } finally {
    await simulator.close();
  }
}

async function run(options: ScenarioRunOptions): Promise<void> {
  const startedAt = new Date();
  const peer = await startPeer();
  const rows: Row[] = [];
  try {
    for (const rttMs of RTTS_MS) rows.push(await measure(peer, rttMs, options));
  } finally {
    await peer.close();
  }

  const table = rows.map((row) => ({
    'rtt ms': row.rttMs,
    'window MiB': WINDOW_BYTES / MIB,
    MiB: row.mib,
    seconds: row.seconds,
    'measured MiB/s': row.measuredMiBps,
    'W/RTT MiB/s': row.modelMiBps ?? '∞',
    'of model':
      row.modelMiBps === undefined ? '' : `${Math.round((row.measuredMiBps / row.modelMiBps) * 100)}%`,
  }));
  process.stdout.write(`${formatTable(table)}\n`);

  const delayed = rows.filter((row) => row.rttMs > 0);
  const ceiling = rows.find((row) => row.rttMs === 0);
  const svg = lineChartSvg({
    title:
      `WAN simulator: one connection, window ${WINDOW_BYTES / MIB} MiB` +
      (ceiling === undefined ? '' : ` (RTT 0: ${Math.round(ceiling.measuredMiBps)} MiB/s)`),
    xLabel: 'round-trip time (ms)',
    yLabel: 'throughput (MiB/s)',
    series: [
      { name: 'measured', points: delayed.map((row) => ({ x: row.rttMs, y: row.measuredMiBps })) },
      { name: 'model W/RTT', points: delayed.map((row) => ({ x: row.rttMs, y: row.modelMiBps ?? 0 })) },
    ],
  });
  const path = await writeResults(
    'wan-selftest',
    { windowBytes: WINDOW_BYTES, quick: options.quick, rows },
    { startedAt, svg },
  );
  process.stdout.write(`results: ${path}\n`);
}

export const wanSelftest: Scenario = {
  describe:
    'single-connection throughput through the WAN simulator against RTT (W = 4 MiB), vs the W/RTT model',
  run,
};
