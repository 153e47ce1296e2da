import assert from 'node:assert/strict';
import { type AddressInfo, connect, createServer as createNetServer } from 'node:net';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isFerryError } from '../../src/errors/index.js';
import { type Digest, parseGroup, parseNamespace } from '../../src/model/index.js';
import { SharedRateLimiter } from '../../src/remote/index.js';
import { faultyProxy } from '../helpers/faulty-proxy.js';
import { startServerWorld } from '../helpers/server.js';
import { INDEX_NAME, writeTestSnapshot } from '../helpers/snapshots.js';

const T0 = Date.UTC(2026, 0, 1) / 1000;
const root = parseNamespace('');

test('idempotent requests are retried on 503; a session open is not', async (t) => {
  const world = await startServerWorld(t, { insecureHttp: true });
  await writeTestSnapshot(world.store('store1'), { group: 'vm/1', time: T0, chunks: 1 });
  const proxy = await faultyProxy(t, world.server.url, (_req, n) => (n % 2 === 0 ? '503' : 'pass'));
  const client = world.client(await world.token('r@pam!t', [['/', 'reader']]), { url: proxy.url });
  assert.equal((await client.version()).product, 'ferry');
  assert.deepEqual(proxy.seen, ['GET /api2/json/version', 'GET /api2/json/version']);
  assert.equal(client.stats().requests, 2);
  await assert.rejects(client.openReader('store1', root, parseGroup('vm/1')), (err) => {
    assert.ok(isFerryError(err, 'FERRY_ERR_BUSY'), String(err));
    return true;
  });
  assert.equal(proxy.seen.length, 3, 'the POST was sent once');
});

test('a batch download cut off mid-stream asks again for the rest and delivers every chunk once', async (t) => {
  const world = await startServerWorld(t, { insecureHttp: true });
  const fx = await writeTestSnapshot(world.store('store1'), {
    group: 'vm/1',
    time: T0,
    chunks: 40,
    chunkSize: 16 * 1024,
  });
  let cuts = 0;
  const proxy = await faultyProxy(t, world.server.url, (req) => {
    if (req.url?.endsWith('/chunks') && cuts < 2) {
      cuts++;
      return { cutAfter: 100_000 };
    }
    return 'pass';
  });
  const client = world.client(await world.token('r@pam!t', [['/', 'reader']]), {
    url: proxy.url,
    connections: 1,
  });
  const reader = await client.openReader('store1', root, parseGroup('vm/1'));
  await reader.download(T0, INDEX_NAME);
  const counts = new Map<Digest, number>();
  await reader.fetchChunks(fx.digests, (digest) => {
    counts.set(digest, (counts.get(digest) ?? 0) + 1);
  });
  assert.equal(cuts, 2);
  assert.equal(counts.size, 40);
  assert.ok([...counts.values()].every((n) => n === 1));
  assert.ok(proxy.seen.filter((s) => s.endsWith('/chunks')).length >= 3);
});

test('a client holds at most its chunkBuffers received chunks at once, 2 unless told otherwise', async (t) => {
  const world = await startServerWorld(t, { insecureHttp: true });
  // 160 chunks of 72 KiB (random, so stored as they are and read into chunk buffers): four batches, one per
  // connection, whose frames reach the consumer at the same time but for the buffers.
  const fx = await writeTestSnapshot(world.store('store1'), {
    group: 'vm/1',
    time: T0,
    chunks: 160,
    chunkSize: 72 * 1024,
  });
  const creds = await world.token('r@pam!t', [['/', 'reader']]);
  for (const [chunkBuffers, expected] of [
    [undefined, 2],
    [3, 3], // below the four batches' frames that could be held
  ] as const) {
    const client = world.client(creds, {
      connections: 4,
      ...(chunkBuffers !== undefined ? { chunkBuffers } : {}),
    });
    const reader = await client.openReader('store1', root, parseGroup('vm/1'));
    await reader.download(T0, INDEX_NAME);
    let holding = 0;
    let most = 0;
    const seen = new Set<Digest>();
    await reader.fetchChunks(fx.digests, async (digest, blob) => {
      holding++;
      most = Math.max(most, holding);
      assert.ok(blob.length > 72 * 1024, 'a whole chunk blob');
      seen.add(digest);
      await sleep(3); // storing it
      holding--;
      return true;
    });
    await reader.close();
    assert.equal(seen.size, 160, 'every chunk once');
    assert.equal(most, expected, `chunkBuffers ${chunkBuffers}: at most ${expected} held at once, and used`);
  }
});

test('a server that never answers gives FERRY_ERR_TIMEOUT', async (t) => {
  const world = await startServerWorld(t, { insecureHttp: true });
  const proxy = await faultyProxy(t, world.server.url, () => 'hang');
  const client = world.client(await world.token('r@pam!t', [['/', 'reader']]), {
    url: proxy.url,
    requestTimeoutMs: 200,
    retries: 1,
  });
  await assert.rejects(client.version(), (err) => isFerryError(err, 'FERRY_ERR_TIMEOUT'));
  assert.equal(proxy.seen.length, 2, 'one retry');
});

test('a connection refused is a network error naming the server', async (t) => {
  const world = await startServerWorld(t, { insecureHttp: true });
  const creds = await world.token('r@pam!t', [['/', 'reader']]);
  const url = world.server.url;
  await world.server.close();
  const client = world.client(creds, { url, retries: 1 });
  await assert.rejects(client.version(), (err) => {
    assert.ok(isFerryError(err, 'FERRY_ERR_NETWORK'), String(err));
    assert.ok(err.message.includes(url), err.message);
    return true;
  });
});

test('the client charges its rate limiters with every byte it receives and sends', async (t) => {
  const world = await startServerWorld(t, { insecureHttp: true });
  const fx = await writeTestSnapshot(world.store('store1'), {
    group: 'vm/1',
    time: T0,
    chunks: 50,
    chunkSize: 8192,
  });
  const fixed = { now: () => 1_000_000 };
  // 1 GB/s with a burst of 1 byte and a clock that stands still: each limiter's debt is exactly what passed.
  const limitIn = SharedRateLimiter.create({ rate: 1e9, burst: 1 }, { clock: fixed });
  const limitOut = SharedRateLimiter.create({ rate: 1e9, burst: 1 }, { clock: fixed });
  const client = world.client(await world.token('r@pam!t', [['/', 'reader']]), {
    rateLimit: { in: limitIn, out: limitOut },
  });
  const reader = await client.openReader('store1', root, parseGroup('vm/1'));
  await reader.download(T0, INDEX_NAME);
  await reader.fetchChunks(fx.digests, () => undefined);
  const { bytesIn, bytesOut } = client.stats();
  assert.ok(bytesIn > 50 * 8192 && bytesOut > 50 * 64, `in ${bytesIn}, out ${bytesOut}`);
  // Booking one more byte now must wait for everything booked before (less the 1-byte burst).
  assert.ok(Math.abs(limitIn.reserve(1) - (bytesIn / 1e9) * 1000) < 0.01);
  assert.ok(Math.abs(limitOut.reserve(1) - (bytesOut / 1e9) * 1000) < 0.01);
});

/**
 * A TCP proxy that lets the head of the server's first answer on each connection through but holds its body until
 * that connection has carried `wanted` request lines (or `giveUpMs` passed), and records which released it.
 */
async function holdingProxy(t: TestContext, target: string, wanted: number, giveUpMs: number) {
  const releases: ('pipelined' | 'timeout')[] = [];
  const { port } = new URL(target);
  const server = createNetServer((client) => {
    const upstream = connect(Number(port), '127.0.0.1');
    let requests = 0;
    let head = Buffer.alloc(0);
    let held: Buffer[] | undefined;
    let timer: NodeJS.Timeout | undefined;
    const release = (why: 'pipelined' | 'timeout') => {
      if (held === undefined) return;
      clearTimeout(timer);
      releases.push(why);
      for (const piece of held) client.write(piece);
      held = [];
      requests = Number.NEGATIVE_INFINITY; // once per connection
    };
    client.on('data', (piece: Buffer) => {
      requests += piece.toString('latin1').split(' HTTP/1.1\r\n').length - 1;
      upstream.write(piece);
      if (requests >= wanted) release('pipelined');
    });
    upstream.on('data', (piece: Buffer) => {
      if (held !== undefined) {
        if (requests === Number.NEGATIVE_INFINITY) client.write(piece);
        else held.push(piece);
        return;
      }
      head = Buffer.concat([head, piece]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.write(head.subarray(0, end + 4));
      held = [head.subarray(end + 4)];
      timer = setTimeout(() => release('timeout'), giveUpMs);
      if (requests >= wanted) release('pipelined');
    });
    const done = () => {
      clearTimeout(timer);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', done).on('error', done);
    upstream.on('close', done).on('error', done);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, releases };
}

test('idempotent requests are pipelined on a connection; a session open is not', async (t) => {
  const world = await startServerWorld(t, { insecureHttp: true });
  await writeTestSnapshot(world.store('store1'), { group: 'vm/1', time: T0, chunks: 1 });
  const creds = await world.token('r@pam!t', [['/', 'reader']]);
  // Two reads at once on a pool of one connection: the second goes out once the first answer's head is in,
  // before its body ends (so a long batch answer hides the next request's round trip).
  const reads = await holdingProxy(t, world.server.url, 2, 1000);
  const reader = world.client(creds, { url: reads.url, connections: 1 });
  const versions = await Promise.all([reader.version(), reader.version()]);
  assert.deepEqual(
    versions.map((v) => v.product),
    ['ferry', 'ferry'],
  );
  assert.deepEqual(reads.releases, ['pipelined']);
  // Two session opens at once: the second waits for the first answer (it must not be sent twice by accident).
  const opens = await holdingProxy(t, world.server.url, 2, 300);
  const opener = world.client(creds, { url: opens.url, connections: 1 });
  const sessions = await Promise.all([
    opener.openReader('store1', root, parseGroup('vm/1')),
    opener.openReader('store1', root, parseGroup('vm/1')),
  ]);
  assert.deepEqual(opens.releases, ['timeout']);
  await Promise.all(sessions.map((session) => session.close()));
});
