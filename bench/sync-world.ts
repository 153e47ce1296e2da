/**
 * The world of the sync benchmarks and the demo: a source datastore served by a real `ferry serve` (a separate
 * process, plain HTTP on loopback), the WAN simulator in front of it, tokens for pull and push, and helpers that run a
 * pull or a push through Ferry's coordinator (real worker threads) and measure it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readDatastoreConfig, toSyncJob, writeDatastoreConfig } from '../src/config/index.js';
import { type LogLine, silentLogger } from '../src/log/index.js';
import { parseStoreName, SYSTEM_CLOCK } from '../src/model/index.js';
import { ChunkPool, Datastore } from '../src/store/index.js';
import {
  EndpointOpener,
  type EndpointSpec,
  type ProgressSnapshot,
  runSync,
  type SyncSummary,
  type TransferOptions,
} from '../src/sync/index.js';
import { flushDirty, setAside } from './measure.js';
import { FERRY_BIN } from './paths.js';
import { startWanSimulator, type WanSimulator } from './wan-simulator.js';
import { buildDatastore, type DatastoreWorkload } from './workload.js';

const FERRY = FERRY_BIN;

export interface Credentials {
  authId: string;
  secret: string;
}

/** Runs the CLI against `home` and returns its JSON answer (the last stdout line). */
export async function ferryJson<T>(home: string, args: string[]): Promise<T> {
  const child = spawn(FERRY, [...args, '--output-format', 'json'], {
    env: { ...process.env, FERRY_HOME: home, FERRY_LOG_LEVEL: 'warn' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  if (code !== 0) throw new Error(`ferry ${args.join(' ')} exited ${code}: ${err}`);
  return JSON.parse(out.trim().split('\n').at(-1) ?? 'null') as T;
}

/** Adds remote `name` to the client home `home`: plain HTTP to 127.0.0.1:`port` (the simulator) with a token. */
export async function addHttpRemote(
  home: string,
  name: string,
  port: number,
  credentials: Credentials,
): Promise<void> {
  await ferryJson(home, [
    'remote',
    'add',
    name,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--scheme',
    'http',
    '--auth-id',
    credentials.authId,
    '--secret',
    credentials.secret,
  ]);
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `ferry serve --insecure-http` on 127.0.0.1:0 and waits for its ready line. */
export async function startServerProcess(home: string): Promise<ServerProcess> {
  const child = spawn(FERRY, ['serve', '--listen', '127.0.0.1:0', '--insecure-http'], {
    env: { ...process.env, FERRY_HOME: home, FERRY_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The server's warnings and errors go to this process's stderr, all but its "stopping" line once we stop it.
  let stopping = false;
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    if (!(stopping && /^ferry: SIGTERM: stopping/.test(line))) process.stderr.write(`${line}\n`);
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((done, fail) => {
    child.once('exit', (code) => fail(new Error(`ferry serve exited ${code} before it was ready`)));
    lines.once('line', (line) => done((JSON.parse(line) as { url: string }).url));
  });
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      stopping = true;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface SyncWorld {
  dir: string;
  /** The server's home: datastore `source` (filled), `target` (empty, for pushes). */
  home: string;
  sourcePath: string;
  server: ServerProcess;
  reader: Credentials;
  writer: Credentials;
  workload: { images: number; logicalBytes: number; storedBytes: number; chunks: number };
  close(): Promise<void>;
}

/** Builds the source datastore through Ferry's backup path, registers both stores, starts the server. */
export async function startSyncWorld(workload: DatastoreWorkload): Promise<SyncWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-sync-'));
  const home = join(dir, 'server-home');
  await mkdir(home, { recursive: true });
  const sourcePath = join(dir, 'source');
  const pool = new ChunkPool();
  const ds = await Datastore.create(sourcePath);
  const built = await buildDatastore(ds, pool, join(dir), workload);
  const stored = [...ds.chunks.index.entries()];
  const storedBytes = stored.reduce((sum, [, e]) => sum + e.encodedSize, 0);
  await ds.close();
  await pool.destroy();
  await ferryJson(home, ['datastore', 'create', 'target', join(dir, 'remote-target')]);
  await writeDatastoreEntry(home, 'source', sourcePath);
  await flushDirty(); // the images the source was built from: their writeback is not part of any timed run
  const reader = await token(home, 'bench@pbs!pull', '/datastore/source', 'reader');
  const writer = await token(home, 'bench@pbs!push', '/datastore/target', 'backup');
  const world: SyncWorld = {
    dir,
    home,
    sourcePath,
    server: await startServerProcess(home),
    reader,
    writer,
    workload: { ...built, storedBytes, chunks: stored.length },
    // The server of now: scenarios restart it (resetRemoteTarget), and a live child would keep the bench running.
    close: async () => {
      await world.server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}

async function writeDatastoreEntry(home: string, name: string, path: string): Promise<void> {
  const entries = await readDatastoreConfig(home);
  await writeDatastoreConfig(home, [...entries, { name: parseStoreName(name), path }]);
}

async function token(home: string, authId: string, path: string, role: string): Promise<Credentials> {
  const created = await ferryJson<{ secret: string }>(home, ['token', 'create', authId]);
  await ferryJson(home, ['acl', 'set', path, authId, role]);
  return { authId, secret: created.secret };
}

/** A simulator in front of the server: RTT split evenly, window W per connection, counting requests. */
export async function startLink(world: SyncWorld, rttMs: number, windowBytes: number): Promise<WanSimulator> {
  const url = new URL(world.server.url);
  return startWanSimulator({
    target: { host: url.hostname, port: Number(url.port) },
    oneWayDelayMs: rttMs / 2,
    windowBytes,
    countHttpRequests: true,
  });
}

export interface SyncRun {
  summary: SyncSummary;
  seconds: number;
  /** Bytes fetched (pull) or uploaded (push) per wall second. */
  mibPerSecond: number;
  lines: LogLine[];
}

/** Runs one pull (remote source → fresh local target) or push (local source → remote target) and measures it. */
export async function runBenchSync(options: {
  world: SyncWorld;
  link: WanSimulator;
  direction: 'pull' | 'push';
  /** Local datastore: the pull's target or the push's source. */
  localPath: string;
  workerThreads: number;
  connections?: number;
  transfer?: Partial<TransferOptions>;
  onProgress?: (p: ProgressSnapshot) => void;
}): Promise<SyncRun> {
  const { world, link, direction } = options;
  const credentials = direction === 'pull' ? world.reader : world.writer;
  const remote: EndpointSpec = {
    kind: 'remote',
    remote: 'bench',
    store: direction === 'pull' ? 'source' : 'target',
    url: `http://127.0.0.1:${link.port}`,
    authId: credentials.authId,
    secret: credentials.secret,
    fingerprint: undefined,
    connections: options.connections ?? 4,
  };
  const local: EndpointSpec = { kind: 'local', store: 'local', path: options.localPath };
  const opener = new EndpointOpener(SYSTEM_CLOCK, silentLogger());
  const lines: LogLine[] = [];
  const started = performance.now();
  try {
    const summary = await runSync({
      job: toSyncJob('bench', {
        store: 'local',
        remote: 'bench',
        'remote-store': direction === 'pull' ? 'source' : 'target',
        'sync-direction': direction,
        'worker-threads': options.workerThreads,
      }),
      source: direction === 'pull' ? remote : local,
      target: direction === 'pull' ? local : remote,
      opener,
      clock: SYSTEM_CLOCK,
      sink: (run) => lines.push(...run),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.transfer ? { transfer: options.transfer } : {}),
    });
    const seconds = (performance.now() - started) / 1000;
    if (summary.groups.failed > 0) throw new Error(`bench sync failed: ${JSON.stringify(summary.failed)}`);
    return { summary, seconds, mibPerSecond: summary.bytes.fetched / 2 ** 20 / seconds, lines };
  } finally {
    await opener.close();
  }
}

/** A fresh empty local datastore under the world's directory. */
export async function freshStore(world: SyncWorld, name: string): Promise<string> {
  const path = join(world.dir, name);
  await rm(path, { recursive: true, force: true });
  const ds = await Datastore.create(path);
  await ds.close();
  return path;
}

/** Empties the server's push target (between push runs). */
export async function resetRemoteTarget(world: SyncWorld): Promise<void> {
  await world.server.stop();
  await setAside(join(world.dir, 'remote-target'));
  const ds = await Datastore.create(join(world.dir, 'remote-target'));
  await ds.close();
  world.server = await startServerProcess(world.home);
}
