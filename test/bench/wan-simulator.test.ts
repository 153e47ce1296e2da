import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Server as HttpServer, IncomingMessage, RequestListener } from 'node:http';
import { Agent, createServer as createHttpServer, get, request } from 'node:http';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { connect, createServer as createNetServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { WanSimulator, WanSimulatorOptions } from '../../bench/wan-simulator.js';
import { HttpRequestCounter, startWanSimulator } from '../../bench/wan-simulator.js';
import { seededBytes } from '../helpers/random.js';

const KIB = 1024;
const MIB = 1024 * 1024;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Listens on 127.0.0.1:0 and closes (dropping live connections) when the test ends. */
async function listen(t: TestContext, server: NetServer | HttpServer): Promise<number> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    const closed = new Promise((done) => server.close(done));
    for (const socket of sockets) socket.destroy();
    await closed;
  });
  return (server.address() as AddressInfo).port;
}

/** Echoes every byte back and ends its side once the client has ended its own. */
async function startEcho(t: TestContext): Promise<number> {
  const server = createNetServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  return listen(t, server);
}

async function startHttp(t: TestContext, handler: RequestListener): Promise<number> {
  return listen(t, createHttpServer(handler));
}

/** Serves `GET /bytes/<n>` with n bytes of a repeated block. */
function byteServer(): RequestListener {
  const block = Buffer.alloc(64 * KIB, 7);
  return (req, res) => {
    let left = Number((req.url ?? '').split('/')[2]);
    res.writeHead(200, { 'content-length': String(left) });
    const pump = (): void => {
      while (left > 0) {
        const piece = block.subarray(0, Math.min(left, block.length));
        left -= piece.length;
        if (!res.write(piece)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  };
}

async function simulate(
  t: TestContext,
  port: number,
  options: Omit<WanSimulatorOptions, 'target'>,
): Promise<WanSimulator> {
  const simulator = await startWanSimulator({ target: { host: '127.0.0.1', port }, ...options });
  t.after(() => simulator.close());
  return simulator;
}

/** GETs over a fresh connection; the time runs from sending the request to the last byte of the response. */
function fetchBytes(url: string): Promise<{ body: Buffer; ms: number }> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const req = get(url, { agent: false }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done({ body: Buffer.concat(chunks), ms: performance.now() - started }));
      res.on('error', fail);
    });
    req.on('error', fail);
  });
}

/** Writes `data` in uneven pieces, ends, and returns everything the peer sent back until it ended. */
async function exchange(port: number, data: Buffer): Promise<Buffer> {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = once(socket, 'end');
  let offset = 0;
  let piece = 1;
  while (offset < data.length) {
    piece = (piece * 7919 + 13) % (96 * KIB);
    const end = Math.min(data.length, offset + 1 + piece);
    if (!socket.write(data.subarray(offset, end))) await once(socket, 'drain');
    offset = end;
  }
  socket.end();
  await ended;
  socket.destroy();
  return Buffer.concat(chunks);
}

/** Resolves on 'close' whatever came before it (events.once would reject on an 'error'). */
function closeOf(socket: Socket): Promise<void> {
  return new Promise((done) => socket.once('close', () => done()));
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 2000;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 5));
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function mibPerSec(bytes: number, ms: number): number {
  return bytes / MIB / (ms / 1000);
}

test('a request and its response through a 25 ms one-way delay take one round trip', async (t) => {
  const port = await startHttp(t, (_req, res) => res.end('pong'));
  const simulator = await simulate(t, port, { oneWayDelayMs: 25, windowBytes: 4 * MIB });
  const { body, ms } = await fetchBytes(`${simulator.url}/ping`);
  assert.equal(body.toString(), 'pong');
  assert.ok(ms >= 50, `took ${ms.toFixed(1)} ms, less than one round trip`);
  assert.ok(ms < 200, `took ${ms.toFixed(1)} ms`);
});

test('each direction has its own delay', async (t) => {
  const port = await startHttp(t, (_req, res) => res.end('pong'));
  const simulator = await simulate(t, port, { oneWayDelayMs: { up: 40, down: 5 }, windowBytes: 4 * MIB });
  const { ms } = await fetchBytes(`${simulator.url}/ping`);
  assert.ok(ms >= 45, `took ${ms.toFixed(1)} ms`);
  assert.ok(ms < 195, `took ${ms.toFixed(1)} ms`);
});

test('bytes arrive intact and in order both ways, with or without delay, window and cap', async (t) => {
  const port = await startEcho(t);
  const data = seededBytes(42, 6 * MIB);
  const configs: Omit<WanSimulatorOptions, 'target'>[] = [
    { oneWayDelayMs: 0, windowBytes: Number.POSITIVE_INFINITY },
    { oneWayDelayMs: 2, windowBytes: 100 * KIB + 3 },
    { oneWayDelayMs: { up: 0, down: 1 }, windowBytes: 1 * MIB, bandwidthBytesPerSec: 64 * MIB },
  ];
  for (const config of configs) {
    const simulator = await simulate(t, port, config);
    const echoed = await exchange(simulator.port, data);
    assert.equal(echoed.length, data.length, `config ${JSON.stringify(config)}`);
    assert.equal(sha256(echoed), sha256(data), `config ${JSON.stringify(config)}`);
    const stats = simulator.stats();
    assert.equal(stats.bytesUp, data.length);
    assert.equal(stats.bytesDown, data.length);
  }
});

test('read memory reused across connections never overwrites bytes still on their way (slow readers, split reads)', async (t) => {
  // The server sends each connection its own data; the simulator reads the server's side into recycled buffers.
  const payloads = [1, 2, 3, 4].map((seed) => seededBytes(seed + 100, 5 * MIB + seed * 7));
  let next = 0;
  const server = createNetServer((socket) => {
    socket.end(payloads[next++ % payloads.length] as Buffer);
  });
  const port = await listen(t, server);
  for (const config of [
    { oneWayDelayMs: 0, windowBytes: Number.POSITIVE_INFINITY },
    { oneWayDelayMs: 3, windowBytes: 100 * KIB + 3 },
  ]) {
    next = 0;
    const simulator = await simulate(t, port, config);
    const received = await Promise.all(
      payloads.map(async () => {
        const socket = connect({ host: '127.0.0.1', port: simulator.port });
        const chunks: Buffer[] = [];
        let pieces = 0;
        socket.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          // A reader that keeps stopping: the simulator's writes back up while later reads keep arriving.
          if (++pieces % 8 === 0) {
            socket.pause();
            setTimeout(() => socket.resume(), 5);
          }
        });
        await once(socket, 'end');
        socket.destroy();
        return Buffer.concat(chunks);
      }),
    );
    const want = new Set(payloads.map(sha256));
    const got = new Set(received.map(sha256));
    assert.deepEqual(got, want, `every connection got its bytes intact (${JSON.stringify(config)})`);
  }
});

test('one connection stays under window / RTT while four together exceed it', async (t) => {
  const windowBytes = 256 * KIB;
  const rttMs = 100;
  const bound = mibPerSec(windowBytes, rttMs);
  const port = await startHttp(t, byteServer());
  const simulator = await simulate(t, port, { oneWayDelayMs: rttMs / 2, windowBytes });
  // Six windows less room for the response head: six round trips in the model.
  const size = 6 * windowBytes - 4 * KIB;

  const single = await fetchBytes(`${simulator.url}/bytes/${size}`);
  assert.equal(single.body.length, size);
  const singleRate = mibPerSec(size, single.ms);
  assert.ok(
    singleRate <= 1.1 * bound,
    `one connection: ${singleRate.toFixed(2)} MiB/s, bound ${bound} MiB/s`,
  );

  const started = performance.now();
  const results = await Promise.all([1, 2, 3, 4].map(() => fetchBytes(`${simulator.url}/bytes/${size}`)));
  const together = mibPerSec(4 * size, performance.now() - started);
  for (const result of results) assert.equal(result.body.length, size);
  assert.ok(
    together > bound,
    `four connections: ${together.toFixed(2)} MiB/s, one-connection bound ${bound}`,
  );
});

test('the bandwidth cap holds for all connections together', async (t) => {
  const cap = 4 * MIB;
  const port = await startHttp(t, byteServer());
  const simulator = await simulate(t, port, {
    oneWayDelayMs: 0,
    windowBytes: Number.POSITIVE_INFINITY,
    bandwidthBytesPerSec: cap,
  });
  const started = performance.now();
  const results = await Promise.all([1, 2].map(() => fetchBytes(`${simulator.url}/bytes/${MIB}`)));
  const rate = mibPerSec(2 * MIB, performance.now() - started);
  for (const result of results) assert.equal(result.body.length, MIB);
  assert.ok(rate <= 1.1 * (cap / MIB), `${rate.toFixed(2)} MiB/s through a ${cap / MIB} MiB/s cap`);
});

test('counts connections and bytes each way, and resetStats starts them again', async (t) => {
  const port = await startEcho(t);
  const simulator = await simulate(t, port, { oneWayDelayMs: 1, windowBytes: 64 * KIB });
  for (const size of [1000, 2000, 3000]) await exchange(simulator.port, seededBytes(size, size));
  let stats = simulator.stats();
  assert.equal(stats.connections, 3);
  assert.equal(stats.bytesUp, 6000);
  assert.equal(stats.bytesDown, 6000);
  assert.equal(stats.httpRequests, 0);
  simulator.resetStats();
  stats = simulator.stats();
  assert.deepEqual(
    { ...stats, openConnections: 0 },
    {
      connections: 0,
      openConnections: 0,
      bytesUp: 0,
      bytesDown: 0,
      httpRequests: 0,
    },
  );
});

test('counts 50 keep-alive requests with Content-Length and chunked bodies as 50', async (t) => {
  const port = await startHttp(t, (req, res) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
    });
    req.on('end', () => res.end(String(size)));
  });
  const simulator = await simulate(t, port, {
    oneWayDelayMs: 0,
    windowBytes: 4 * MIB,
    countHttpRequests: true,
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  // A body that looks like a request must not be counted as one.
  const decoy = Buffer.from('GET /not-a-request HTTP/1.1\r\nHost: x\r\n\r\n');
  for (let i = 0; i < 50; i++) {
    const body = Buffer.concat([decoy, seededBytes(i, 1 + i * 997)]);
    const isChunked = i % 2 === 1;
    const reply = await new Promise<string>((done, fail) => {
      const req = request(
        `${simulator.url}/upload/${i}`,
        {
          method: 'POST',
          agent,
          headers: isChunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => done(text));
        },
      );
      req.on('error', fail);
      if (isChunked) {
        req.write(body.subarray(0, 10));
        req.write(body.subarray(10));
        if (i % 4 === 3) req.addTrailers({ 'x-checksum': sha256(body) });
      } else req.write(body);
      req.end();
    });
    assert.equal(reply, String(body.length));
  }
  const stats = simulator.stats();
  assert.equal(stats.connections, 1);
  assert.equal(stats.httpRequests, 50);
});

test('the request counter does not depend on how the stream is split', () => {
  const stream = Buffer.from(
    [
      '\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello',
      'PUT /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n',
      'DELETE /d HTTP/1.1\r\ncontent-length: 0\r\n\r\n',
    ].join(''),
    'latin1',
  );
  for (const step of [stream.length, 1, 2, 3, 5, 7]) {
    const counter = new HttpRequestCounter();
    for (let i = 0; i < stream.length; i += step) counter.feed(stream.subarray(i, i + step));
    assert.equal(counter.count, 4, `fed ${step} bytes at a time`);
  }
});

test('an end from either side reaches the other after the delay, and the other side can still answer', async (t) => {
  const server = createNetServer({ allowHalfOpen: true }, (socket) => {
    let size = 0;
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
    });
    socket.on('end', () => socket.end(`got ${size}`));
  });
  const port = await listen(t, server);
  const simulator = await simulate(t, port, { oneWayDelayMs: 10, windowBytes: 64 * KIB });
  const reply = await exchange(simulator.port, seededBytes(9, 300 * KIB));
  assert.equal(reply.toString(), `got ${300 * KIB}`);
});

test('a reset on one side destroys the other', async (t) => {
  const accepted: Socket[] = [];
  const server = createNetServer((socket) => {
    accepted.push(socket);
    socket.on('error', () => {});
  });
  const port = await listen(t, server);
  const simulator = await simulate(t, port, { oneWayDelayMs: 5, windowBytes: 64 * KIB });

  const client = connect(simulator.port, '127.0.0.1');
  client.on('error', () => {});
  client.write('hello');
  await waitFor(() => accepted.length === 1, 'the target to accept');
  const target = accepted[0] as Socket;
  await once(target, 'data');
  const targetClosed = closeOf(target);
  client.resetAndDestroy();
  await targetClosed;

  const client2 = connect(simulator.port, '127.0.0.1');
  const client2Closed = closeOf(client2);
  client2.on('error', () => {});
  client2.write('hello');
  await waitFor(() => accepted.length === 2, 'the target to accept');
  const target2 = accepted[1] as Socket;
  await once(target2, 'data');
  target2.resetAndDestroy();
  await client2Closed;
  assert.ok(client2.destroyed);
});

test('a connection to a target that refuses is closed', async (t) => {
  const probe = createNetServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  await new Promise((done) => probe.close(done));
  const simulator = await simulate(t, port, { oneWayDelayMs: 0, windowBytes: 64 * KIB });
  const client = connect(simulator.port, '127.0.0.1');
  client.on('error', () => {});
  await closeOf(client);
  await waitFor(() => simulator.stats().openConnections === 0, 'the connection to be forgotten');
});

test('close() ends every connection, even mid-transfer, and stops listening', async (t) => {
  const port = await startEcho(t);
  const simulator = await simulate(t, port, { oneWayDelayMs: 20, windowBytes: 256 * KIB });
  const clients = [1, 2, 3].map(() => {
    const client = connect(simulator.port, '127.0.0.1');
    client.on('error', () => {});
    client.resume();
    return client;
  });
  const busy = clients[0] as Socket;
  const noise = seededBytes(1, 64 * KIB);
  const pump = (): void => {
    while (!busy.destroyed && busy.write(noise));
  };
  busy.on('drain', pump);
  pump();
  for (const client of clients.slice(1)) client.write('x');
  await once(busy, 'data');
  assert.equal(simulator.stats().openConnections, 3);

  const closed = clients.map(closeOf);
  await simulator.close();
  await Promise.all(closed);
  assert.equal(simulator.stats().openConnections, 0);
  const late = connect(simulator.port, '127.0.0.1');
  const [err] = (await once(late, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNREFUSED');
  await simulator.close();
});

test('the CLI prints its port and proxies until it is stopped', async (t) => {
  const port = await startHttp(t, (_req, res) => res.end('pong'));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'bench/wan-simulator.ts'),
      '--target',
      `127.0.0.1:${port}`,
      '--delay',
      '5',
      '--window',
      '4MiB',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const { port: proxyPort } = JSON.parse(line.toString()) as { port: number };
  const { body, ms } = await fetchBytes(`http://127.0.0.1:${proxyPort}/`);
  assert.equal(body.toString(), 'pong');
  assert.ok(ms >= 10, `took ${ms.toFixed(1)} ms`);
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  assert.equal(code, 0);
});
