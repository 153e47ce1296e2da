/**
 * api-batch: batch chunk transfer through a real `ferry serve` subprocess and FerryClient. Download (batch frames)
 * and upload (server-verified) throughput of 4 MiB chunks at 1 and 4 pool connections, over HTTPS and plain HTTP,
 * on loopback and through the WAN simulator at 50 ms RTT (4 MiB window per connection); and how many HTTP requests a
 * reader session needs for 1,000 small chunks.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  aclPathFor,
  generateTokenSecret,
  hashTokenSecret,
  writeAclConfig,
  writeDatastoreConfig,
  writeTokenConfig,
} from '../../src/config/index.js';
import { dynamicEntry, encodeBlob, encodeDynamicIndex, parseDynamicIndex } from '../../src/format/index.js';
import { silentLogger } from '../../src/log/index.js';
import {
  type ArchiveName,
  type Digest,
  digestOf,
  digestToBytes,
  parseAuthId,
  parseGroup,
  parseStoreName,
  ROOT_NAMESPACE,
} from '../../src/model/index.js';
import { FerryClient } from '../../src/remote/index.js';
import { Datastore, SnapshotWriter } from '../../src/store/index.js';
import { FERRY_BIN } from '../paths.js';
import { formatTable, writeResults } from '../results.js';
import type { Scenario, ScenarioRunOptions } from '../scenario.js';
import { startWanSimulator } from '../wan-simulator.js';

const MIB = 1024 * 1024;
const BIG = 4 * MIB;
const SMALL = 16 * 1024;
const T0 = Date.UTC(2026, 0, 1) / 1000;
const INDEX = 'data.didx' as ArchiveName;
const AUTH_ID = 'bench@pam!t';
const log = silentLogger();

/** Fast, incompressible, seeded bytes (xorshift), as the workload generator would make them. */
function randomBytes(seed: number, length: number): Buffer {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer, 0, length);
}

async function writeSnapshot(
  ds: Datastore,
  group: string,
  seed: number,
  count: number,
  size: number,
): Promise<Digest[]> {
  const snapshot = { group: parseGroup(group), time: T0 };
  const writer = await SnapshotWriter.begin(ds, ROOT_NAMESPACE, snapshot, { owner: parseAuthId(AUTH_ID) });
  const digests: Digest[] = [];
  const entries: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const data = randomBytes(seed * 100_000 + i, size);
    const digest = digestOf(data);
    await ds.chunks.insert(digest, encodeBlob(data), size);
    digests.push(digest);
    entries.push(dynamicEntry((i + 1) * size, digestToBytes(digest)));
  }
  await writer.writeIndex(INDEX, encodeDynamicIndex({ ctime: T0, entries: Buffer.concat(entries) }));
  await writer.commit();
  return digests;
}

interface Served {
  url: string;
  fingerprint: string | null;
  child: ChildProcess;
}

async function serve(home: string, insecure: boolean): Promise<Served> {
  const child = spawn(
    FERRY_BIN,
    ['serve', '--listen', '127.0.0.1:0', ...(insecure ? ['--insecure-http'] : [])],
    {
      env: { ...process.env, FERRY_HOME: home, FERRY_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const [line] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), 'line')) as [
    string,
  ];
  return { ...(JSON.parse(line) as { url: string; fingerprint: string | null }), child };
}

interface Row {
  direction: 'download' | 'upload';
  scheme: string;
  rttMs: number;
  connections: number;
  chunks: number;
  mib: number;
  seconds: number;
  miBps: number;
  requests: number;
}

async function run(options: ScenarioRunOptions): Promise<void> {
  const startedAt = new Date();
  const bigCount = options.quick ? 16 : 64;
  const uploadCount = options.quick ? 8 : 32;
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-api-'));
  const servers: Served[] = [];
  const rows: Row[] = [];
  let smallRequests = 0;
  try {
    const home = join(dir, 'home');
    await mkdir(home, { recursive: true });
    const ds = await Datastore.create(join(dir, 'store1'));
    const big = await writeSnapshot(ds, 'vm/1', 1, bigCount, BIG);
    const small = await writeSnapshot(ds, 'vm/2', 2, 1000, SMALL);
    await ds.close();
    const secret = generateTokenSecret();
    await writeDatastoreConfig(home, [{ name: parseStoreName('store1'), path: join(dir, 'store1') }]);
    await writeTokenConfig(home, [
      { authId: parseAuthId(AUTH_ID), hash: await hashTokenSecret(secret), created: 0 },
    ]);
    await writeAclConfig(home, [
      {
        path: aclPathFor(parseStoreName('store1'), ROOT_NAMESPACE),
        authId: parseAuthId(AUTH_ID),
        role: 'backup',
        propagate: true,
      },
    ]);
    servers.push(await serve(home, false), await serve(home, true));
    const uploads = Array.from({ length: uploadCount }, (_, i) => {
      const data = randomBytes(900_000 + i, BIG);
      return { digest: digestOf(data), blob: encodeBlob(data) };
    });
    let uploadTime = T0;

    for (const server of servers) {
      const scheme = new URL(server.url).protocol.replace(':', '');
      for (const rttMs of [0, 50]) {
        const wan =
          rttMs === 0
            ? undefined
            : await startWanSimulator({
                target: { host: '127.0.0.1', port: Number(new URL(server.url).port) },
                oneWayDelayMs: rttMs / 2,
                windowBytes: BIG,
              });
        try {
          for (const connections of [1, 4]) {
            const url = wan === undefined ? server.url : `${scheme}://127.0.0.1:${wan.port}`;
            const client = new FerryClient({
              url,
              authId: AUTH_ID,
              secret,
              ...(server.fingerprint !== null ? { fingerprint: server.fingerprint } : {}),
              connections,
              log,
            });
            try {
              const reader = await client.openReader('store1', ROOT_NAMESPACE, parseGroup('vm/1'));
              const index = parseDynamicIndex(await reader.download(T0, INDEX));
              let bytes = 0;
              const before = client.stats().requests;
              const t0 = performance.now();
              await reader.fetchChunks(
                big,
                (_d, blob) => {
                  bytes += blob.length;
                },
                { sizes: big.map((_, i) => index.chunkEnd(i) - index.chunkStart(i)) },
              );
              const seconds = (performance.now() - t0) / 1000;
              rows.push({
                direction: 'download',
                scheme,
                rttMs,
                connections,
                chunks: big.length,
                mib: bytes / MIB,
                seconds,
                miBps: bytes / MIB / seconds,
                requests: client.stats().requests - before,
              });
              await reader.close();

              uploadTime += 60;
              const writer = await client.openWriter('store1', ROOT_NAMESPACE, {
                group: parseGroup('vm/3'),
                time: uploadTime,
              });
              const upBefore = client.stats().requests;
              const u0 = performance.now();
              const stats = await writer.uploadChunks(uploads);
              const upSeconds = (performance.now() - u0) / 1000;
              rows.push({
                direction: 'upload',
                scheme,
                rttMs,
                connections,
                chunks: uploads.length,
                mib: stats.bytes / MIB,
                seconds: upSeconds,
                miBps: stats.bytes / MIB / upSeconds,
                requests: client.stats().requests - upBefore,
              });
              await writer.abort();
            } finally {
              await client.close();
            }
          }
        } finally {
          await wan?.close();
        }
      }
    }

    const client = new FerryClient({ url: servers[1]?.url as string, authId: AUTH_ID, secret, log });
    try {
      const before = client.stats().requests;
      const reader = await client.openReader('store1', ROOT_NAMESPACE, parseGroup('vm/2'));
      await reader.download(T0, INDEX);
      await reader.fetchChunks(small, () => undefined);
      await reader.close();
      smallRequests = client.stats().requests - before;
    } finally {
      await client.close();
    }
  } finally {
    for (const s of servers) {
      s.child.kill('SIGTERM');
      await once(s.child, 'close');
    }
    await rm(dir, { recursive: true, force: true });
  }

  const round = (n: number) => Math.round(n * 10) / 10;
  process.stdout.write(
    `${formatTable(
      rows.map((r) => ({
        direction: r.direction,
        scheme: r.scheme,
        'rtt ms': r.rttMs,
        connections: r.connections,
        chunks: r.chunks,
        MiB: round(r.mib),
        seconds: Math.round(r.seconds * 1000) / 1000,
        'MiB/s': round(r.miBps),
        requests: r.requests,
      })),
    )}\n`,
  );
  process.stdout.write(
    `1,000 chunks of ${SMALL / 1024} KiB: ${smallRequests} requests (open, index, batches, close)\n`,
  );
  const path = await writeResults('api-batch', { quick: options.quick, rows, smallRequests }, { startedAt });
  process.stdout.write(`results: ${path}\n`);
}

export const apiBatch: Scenario = {
  describe:
    'batch chunk download/upload through ferry serve: HTTPS vs HTTP, 1 vs 4 connections, loopback vs 50 ms RTT',
  run,
};
