import { randomBytes } from 'node:crypto';
import { decodeBlob, encodeBlob, FIXED_CHUNK_SIZE, sha256, verifyChunk } from '../format/index.js';
import type { Digest } from '../model/index.js';
import type { FerryClient } from '../remote/index.js';

/**
 * `ferry benchmark`: what this host's CPU does per chunk, and with `--remote`, what the link to a server carries.
 * Like PBS's client benchmark, each figure is one thread (CPU) or a stated number of connections (link), measured for
 * a fixed time; unlike it, no reference machine is quoted: the figures to compare are the link's with one connection
 * and with several (one connection over a long link is bounded by its window / RTT, which is why a sync job runs
 * several groups at once, each on its own connections).
 */

export interface CpuResult {
  /** MiB/s of plain data, one thread. */
  sha256: number;
  /** Chunk encoding as a backup does it: zstd level 1 (kept only when smaller) and CRC-32. */
  encode: number;
  /** Chunk decoding as a restore does it: CRC-32 and zstd. */
  decode: number;
  /** Chunk verification as a sync or verify does it: CRC-32, zstd and SHA-256 against the digest. */
  verify: number;
}

export interface LinkRate {
  connections: number;
  /** MiB/s. */
  download: number;
  upload: number;
}

export interface LinkResult {
  /** Median round trip of a small request on an open connection, in ms. */
  rttMs: number;
  rates: LinkRate[];
}

const MIB = 1024 * 1024;

/**
 * A 4 MiB chunk of mixed content: alternate 4 KiB pages random and text-like (log lines with counters), so zstd
 * level 1 both compresses and skips, as on a real disk image; about half its size after compression.
 */
export function sampleChunk(): Buffer {
  const block = randomBytes(FIXED_CHUNK_SIZE);
  const page = 4096;
  for (let at = page; at < block.length; at += 2 * page) {
    let text = '';
    for (let line = 0; text.length < page; line++)
      text += `2026-11-27T10:00:${String(line % 60).padStart(2, '0')}Z host kernel: eth0 rx ${at + line * 17}\n`;
    block.write(text.slice(0, page), at, 'latin1');
  }
  return block;
}

/** Runs `op` (one pass over `bytes` plain bytes) until `seconds` have passed; MiB/s. */
function rateOf(bytes: number, seconds: number, op: () => void): number {
  op(); // warm-up: code paths compiled, contexts made
  const started = performance.now();
  let passes = 0;
  do {
    op();
    passes++;
  } while (performance.now() - started < seconds * 1000);
  return (passes * bytes) / MIB / ((performance.now() - started) / 1000);
}

export function benchmarkCpu(seconds: number): CpuResult {
  const chunk = sampleChunk();
  const digest = sha256(chunk).toString('hex') as Digest;
  const blob = encodeBlob(chunk);
  const size = chunk.length;
  return {
    sha256: rateOf(size, seconds, () => sha256(chunk)),
    encode: rateOf(size, seconds, () => encodeBlob(chunk)),
    decode: rateOf(size, seconds, () => decodeBlob(blob)),
    verify: rateOf(size, seconds, () => verifyChunk(blob, digest, { expectedSize: size })),
  };
}

/** Bytes per speed-test request: long enough that a request's own round trip is a small part of it. */
const REQUEST_BYTES = 8 * MIB;

/**
 * Measures the link to a server: the round trip of a small request, then for each client (one per connection count,
 * its pool that many connections wide) downloads and uploads for `seconds` each, one request per connection at a
 * time. `clients` are the caller's; it closes them.
 */
export async function benchmarkLink(
  clients: readonly { connections: number; client: FerryClient }[],
  seconds: number,
  signal?: AbortSignal,
): Promise<LinkResult> {
  const first = clients[0]?.client;
  if (first === undefined) throw new Error('benchmarkLink: no client');
  await first.version(); // connects (and shakes hands) before the timed requests
  const trips: number[] = [];
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    await first.version();
    trips.push(performance.now() - started);
  }
  trips.sort((a, b) => a - b);
  const body = Array.from({ length: REQUEST_BYTES / MIB }, () => randomBytes(MIB));
  const opts = signal ? { signal } : {};
  const rates: LinkRate[] = [];
  for (const { connections, client } of clients) {
    rates.push({
      connections,
      download: await lanes(connections, seconds, () => client.speedtestDownload(REQUEST_BYTES, opts)),
      upload: await lanes(connections, seconds, () => client.speedtestUpload(body, opts)),
    });
  }
  return { rttMs: ((trips[4] as number) + (trips[5] as number)) / 2, rates };
}

/** `lanes` loops of `request` (each resolving to the bytes it moved) until `seconds` have passed; MiB/s. */
async function lanes(count: number, seconds: number, request: () => Promise<number>): Promise<number> {
  const started = performance.now();
  let bytes = 0;
  const lane = async () => {
    do {
      const moved = await request(); // not `bytes += await …`: that reads `bytes` before the wait, losing the others'
      bytes += moved;
    } while (performance.now() - started < seconds * 1000);
  };
  await Promise.all(Array.from({ length: count }, lane));
  return bytes / MIB / ((performance.now() - started) / 1000);
}
