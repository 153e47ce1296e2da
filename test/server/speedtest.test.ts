/**
 * The speed-test routes behind `ferry benchmark --remote`: any authenticated caller, bounded per request, nothing
 * stored.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { Pool } from 'undici';
import { isFerryError } from '../../src/errors/index.js';
import { AUTH_SCHEME, CONTENT_TYPE, LIMITS, ROUTES } from '../../src/protocol/index.js';
import { startServerWorld } from '../helpers/server.js';

const MIB = 1024 * 1024;

test('a token without any grant downloads exactly the bytes it asks for and uploads bytes that are dropped', async (t) => {
  const world = await startServerWorld(t);
  const client = world.client(await world.token('bench@pam!t'));
  assert.equal(await client.speedtestDownload(1), 1);
  assert.equal(await client.speedtestDownload(3 * MIB + 5), 3 * MIB + 5);
  const body = [Buffer.alloc(MIB, 1), Buffer.alloc(17, 2)];
  assert.equal(await client.speedtestUpload(body), MIB + 17);
  assert.deepEqual(await readdir(join(world.dir, 'store1', '.chunks')).catch(() => []), [], 'nothing stored');
});

test('the speed test refuses unauthenticated callers, sizes out of range and other bodies', async (t) => {
  const world = await startServerWorld(t, { insecureHttp: true });
  const creds = await world.token('bench@pam!t');
  const client = world.client(creds);
  for (const bytes of [0, LIMITS.maxSpeedtestBytes + 1]) {
    await assert.rejects(client.speedtestDownload(bytes), (err) =>
      isFerryError(err, 'FERRY_ERR_INVALID_VALUE'),
    );
  }
  const over = Array.from({ length: LIMITS.maxSpeedtestBytes / MIB + 1 }, () => Buffer.alloc(MIB));
  await assert.rejects(client.speedtestUpload(over), (err) => isFerryError(err, 'FERRY_ERR_TOO_LARGE'));
  assert.equal(await client.speedtestDownload(10), 10, 'the server is fine afterwards');

  const pool = new Pool(world.server.url);
  t.after(() => pool.close());
  const raw = async (method: 'GET' | 'POST', authorization: string | undefined, contentType?: string) => {
    const res = await pool.request({
      method,
      path: `${ROUTES.speedtest}${method === 'GET' ? '?bytes=16' : ''}`,
      headers: {
        ...(authorization ? { authorization } : {}),
        ...(contentType ? { 'content-type': contentType } : {}),
      },
      ...(method === 'POST' ? { body: Buffer.alloc(16) } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, code: (JSON.parse(text) as { error?: { code: string } }).error?.code };
  };
  assert.deepEqual(await raw('GET', undefined), { status: 401, code: 'FERRY_ERR_UNAUTHORIZED' });
  assert.deepEqual(await raw('POST', undefined, CONTENT_TYPE.speedtest), {
    status: 401,
    code: 'FERRY_ERR_UNAUTHORIZED',
  });
  const auth = `${AUTH_SCHEME} ${creds.authId}:${creds.secret}`;
  assert.deepEqual(await raw('POST', auth, CONTENT_TYPE.octets), {
    status: 400,
    code: 'FERRY_ERR_INVALID_VALUE',
  });
});

test('an upload without a length that runs over costs its connection, and the next request is answered at once', async (t) => {
  const world = await startServerWorld(t, { insecureHttp: true });
  const creds = await world.token('bench@pam!t');
  const pool = new Pool(world.server.url, { connections: 1 });
  t.after(() => pool.close());
  const authorization = `${AUTH_SCHEME} ${creds.authId}:${creds.secret}`;
  async function* body() {
    for (let i = 0; i <= LIMITS.maxSpeedtestBytes / MIB + 16; i++) yield Buffer.alloc(MIB);
  }
  await assert.rejects(
    pool.request({
      method: 'POST',
      path: ROUTES.speedtest,
      headers: { authorization, 'content-type': CONTENT_TYPE.speedtest },
      body: Readable.from(body()),
    }),
    (err: NodeJS.ErrnoException) => ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'].includes(err.code ?? ''),
  );
  const started = performance.now();
  const next = await pool.request({
    method: 'GET',
    path: `${ROUTES.speedtest}?bytes=3`,
    headers: { authorization },
  });
  assert.equal((await next.body.arrayBuffer()).byteLength, 3);
  // Left open with the rest of the body unread, the connection made this wait for the keep-alive timeout (65 s).
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 20, `the next request took ${seconds.toFixed(1)} s`);
});
