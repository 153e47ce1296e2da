import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { Pool } from 'undici';
import { encodeBlob } from '../../src/format/index.js';
import { type Digest, digestOf, parseGroup, parseNamespace } from '../../src/model/index.js';
import { authorizationHeader, CONTENT_TYPE, encodeFrameHeader, LIMITS } from '../../src/protocol/index.js';
import { seededBytes } from '../helpers/random.js';
import { type Credentials, type ServerWorld, startServerWorld } from '../helpers/server.js';
import { writeTestSnapshot } from '../helpers/snapshots.js';
import { describeTree } from '../helpers/tree.js';

const T0 = Date.UTC(2026, 0, 1) / 1000;
const root = parseNamespace('');

interface Raw {
  status: number;
  body: { error?: { code: string; message: string }; data?: unknown };
}

/** Sends exactly what it is given (no client-side checks), with the token's Authorization header. */
function rawClient(t: TestContext, world: ServerWorld, creds: Credentials) {
  const pool = new Pool(world.server.url, { connect: { rejectUnauthorized: false }, connections: 2 });
  t.after(() => pool.close());
  return async (
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    options: { json?: unknown; body?: Buffer | string; type?: string; headers?: Record<string, string> } = {},
  ): Promise<Raw> => {
    const body = options.json !== undefined ? JSON.stringify(options.json) : options.body;
    const res = await pool.request({
      method,
      path,
      headers: {
        authorization: authorizationHeader(creds.authId, creds.secret),
        ...(body !== undefined ? { 'content-type': options.type ?? CONTENT_TYPE.json } : {}),
        ...options.headers,
      },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: JSON.parse(text) as Raw['body'] };
  };
}

function assertRefused(r: Raw, what: string, status?: number): void {
  assert.ok(r.status >= 400 && r.status < 500, `${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  if (status !== undefined) assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
  assert.match(r.body.error?.code ?? '', /^FERRY_ERR_[A-Z_]+$/, `${what}: ${JSON.stringify(r.body)}`);
}

async function hostileWorld(t: TestContext) {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  const fx = await writeTestSnapshot(ds, { group: 'vm/1', time: T0, chunks: 3, owner: 'admin@pam!t' });
  const creds = await world.token('admin@pam!t', [['/', 'admin']]);
  const raw = rawClient(t, world, creds);
  const client = world.client(creds);
  const before = async () =>
    (await describeTree(world.dir)).filter(
      (e) => !e.path.includes('.ferry/locks') && !e.path.endsWith('lock.mdb'),
    );
  return { world, ds, fx, creds, raw, client, before };
}

/** A reader session on vm/1 (which has a snapshot) and a writer session on vm/2, opened with raw requests. */
async function openSessions(raw: ReturnType<typeof rawClient>) {
  const open = async (kind: 'reader' | 'writer', json: unknown) =>
    (
      (await raw('POST', `/api2/json/admin/datastore/store1/${kind}`, { json })).body.data as {
        session: string;
      }
    ).session;
  return {
    reader: { session: await open('reader', { 'backup-type': 'vm', 'backup-id': '1' }) },
    writer: { session: await open('writer', { 'backup-type': 'vm', 'backup-id': '2', 'backup-time': T0 }) },
  };
}

test('path traversal in every path and query parameter gets a 4xx with a code, and changes nothing on disk', async (t) => {
  const { world, raw, client, before } = await hostileWorld(t);
  const picture = await before();
  const { reader, writer } = await openSessions(raw);
  const evil = [
    '..',
    '../..',
    '../../etc/passwd',
    '/etc/passwd',
    'a/../../b',
    '.',
    '.hidden',
    'a//b',
    '%2e%2e',
    'a\\..\\b',
    'x\0y',
  ];
  const cases: [string, 'GET' | 'POST' | 'DELETE', string, unknown?][] = [];
  const q = encodeURIComponent;
  for (const e of evil) {
    cases.push(
      [`store ${e}`, 'GET', `/api2/json/admin/datastore/${q(e)}/groups`],
      [`ns ${e}`, 'GET', `/api2/json/admin/datastore/store1/groups?ns=${q(e)}`],
      [`snapshots ns ${e}`, 'GET', `/api2/json/admin/datastore/store1/snapshots?ns=${q(e)}`],
      [`parent ${e}`, 'GET', `/api2/json/admin/datastore/store1/namespace?parent=${q(e)}`],
      [
        `delete ns ${e}`,
        'DELETE',
        `/api2/json/admin/datastore/store1/namespace?ns=${q(e)}&delete-groups=true`,
      ],
      [`create ns name ${e}`, 'POST', '/api2/json/admin/datastore/store1/namespace', { name: e }],
      [
        `create ns parent ${e}`,
        'POST',
        '/api2/json/admin/datastore/store1/namespace',
        { name: 'x', parent: e },
      ],
      [
        `backup-type ${e}`,
        'GET',
        `/api2/json/admin/datastore/store1/snapshots?backup-type=${q(e)}&backup-id=1`,
      ],
      [
        `backup-id ${e}`,
        'GET',
        `/api2/json/admin/datastore/store1/snapshots?backup-type=vm&backup-id=${q(e)}`,
      ],
      [
        `delete group ${e}`,
        'DELETE',
        `/api2/json/admin/datastore/store1/groups?backup-type=vm&backup-id=${q(e)}`,
      ],
      [
        `delete snapshot ${e}`,
        'DELETE',
        `/api2/json/admin/datastore/store1/snapshots?backup-type=vm&backup-id=${q(e)}&backup-time=${T0}`,
      ],
      [
        `reader ns ${e}`,
        'POST',
        '/api2/json/admin/datastore/store1/reader',
        { ns: e, 'backup-type': 'vm', 'backup-id': '1' },
      ],
      [
        `reader id ${e}`,
        'POST',
        '/api2/json/admin/datastore/store1/reader',
        { 'backup-type': 'vm', 'backup-id': e },
      ],
      [
        `writer id ${e}`,
        'POST',
        '/api2/json/admin/datastore/store1/writer',
        { 'backup-type': 'vm', 'backup-id': e, 'backup-time': T0 },
      ],
      [
        `writer owner ${e}`,
        'POST',
        '/api2/json/admin/datastore/store1/writer',
        { 'backup-type': 'vm', 'backup-id': '3', 'backup-time': T0, owner: e },
      ],
      [
        `download ${e}`,
        'GET',
        `/api2/json/reader/${reader.session}/download?backup-time=${T0}&file-name=${q(e)}`,
      ],
      [
        `download ${e}.blob`,
        'GET',
        `/api2/json/reader/${reader.session}/download?backup-time=${T0}&file-name=${q(`${e}/vm.conf.blob`)}`,
      ],
      [
        `previous ${e}`,
        'GET',
        `/api2/json/writer/${writer.session}/previous?file-name=${q(`${e}/index.json.blob`)}`,
      ],
      [`upload ${e}`, 'POST', `/api2/json/writer/${writer.session}/file?file-name=${q(`${e}.blob`)}`],
      [`reader session ${e}`, 'GET', `/api2/json/reader/${q(e)}/download?backup-time=${T0}&file-name=x.blob`],
      [`writer session ${e}`, 'DELETE', `/api2/json/writer/${q(e)}`],
    );
  }
  cases.push(
    ['raw ..', 'GET', '/api2/json/admin/datastore/../../../etc/passwd'],
    ['raw encoded', 'GET', '/api2/json/admin/datastore/store1/..%2f..%2f..%2fetc/groups'],
    [
      'backup-time negative',
      'GET',
      `/api2/json/reader/${reader.session}/download?backup-time=-1&file-name=index.json.blob`,
    ],
    [
      'backup-time text',
      'GET',
      `/api2/json/reader/${reader.session}/download?backup-time=yesterday&file-name=index.json.blob`,
    ],
    [
      'backup-time huge',
      'GET',
      `/api2/json/reader/${reader.session}/download?backup-time=1e30&file-name=index.json.blob`,
    ],
    ['crypt-mode', 'POST', `/api2/json/writer/${writer.session}/file?file-name=a.blob&crypt-mode=..`],
    ['unknown query key', 'GET', '/api2/json/admin/datastore/store1/groups?ns=&path=/etc'],
    ['digest', 'POST', `/api2/json/reader/${reader.session}/chunks`, { digests: ['../../.chunks/0000/x'] }],
    ['digest upper', 'POST', `/api2/json/reader/${reader.session}/chunks`, { digests: ['A'.repeat(64)] }],
  );
  for (const [what, method, path, json] of cases) {
    const r = await raw(
      method,
      path,
      json === undefined
        ? method === 'POST'
          ? { body: Buffer.alloc(1), type: CONTENT_TYPE.octets }
          : {}
        : { json },
    );
    assertRefused(r, what);
  }
  assert.ok(cases.length > 200);
  await raw('DELETE', `/api2/json/writer/${writer.session}`);
  assert.deepEqual(await before(), picture);
  assert.equal((await client.listSnapshots('store1', root)).length, 1, 'the server still serves');
  assert.ok(world.server.stats().requests > cases.length);
});

test('oversized bodies, huge batch lists and malformed JSON get 4xx codes, and the server keeps serving', async (t) => {
  const { raw, client, fx, world } = await hostileWorld(t);
  const { reader, writer } = await openSessions(raw);
  const many = (n: number) => Array.from({ length: n }, (_, i) => digestOf(Buffer.from(String(i))));
  const cases: [string, Promise<Raw>, number?][] = [
    [
      'JSON body over the limit',
      raw('POST', '/api2/json/admin/datastore/store1/namespace', {
        body: `{"name":"${'a'.repeat(LIMITS.maxJsonBody)}"}`,
      }),
      413,
    ],
    [
      '1,025 digests to fetch',
      raw('POST', `/api2/json/reader/${reader.session}/chunks`, { json: { digests: many(1025) } }),
      400,
    ],
    [
      '100,000 digests to fetch',
      raw('POST', `/api2/json/reader/${reader.session}/chunks`, { json: { digests: many(5000) } }),
    ],
    [
      '257 digests to prove',
      raw('POST', `/api2/json/reader/${reader.session}/prove`, {
        json: { nonce: 'ab'.repeat(16), digests: many(257) },
      }),
      400,
    ],
    [
      'short nonce',
      raw('POST', `/api2/json/reader/${reader.session}/prove`, {
        json: { nonce: 'ab'.repeat(8), digests: fx.digests },
      }),
      400,
    ],
    [
      '1,025 digests known',
      raw('POST', `/api2/json/writer/${writer.session}/known`, { json: { digests: many(1025) } }),
      400,
    ],
    [
      'malformed JSON',
      raw('POST', '/api2/json/admin/datastore/store1/namespace', {
        body: '{"name": "x",',
        type: CONTENT_TYPE.json,
      }),
      400,
    ],
    ['JSON array', raw('POST', '/api2/json/admin/datastore/store1/namespace', { json: ['x'] }), 400],
    [
      'JSON extra key',
      raw('POST', '/api2/json/admin/datastore/store1/namespace', { json: { name: 'x', mode: '0777' } }),
      400,
    ],
    [
      'proto poisoning',
      raw('POST', '/api2/json/admin/datastore/store1/namespace', {
        body: '{"name":"x","__proto__":{"admin":true}}',
      }),
      400,
    ],
    [
      'wrong content type',
      raw('POST', '/api2/json/admin/datastore/store1/namespace', {
        body: 'name=x',
        type: 'application/x-www-form-urlencoded',
      }),
    ],
    [
      'chunks as JSON',
      raw('POST', `/api2/json/writer/${writer.session}/chunks`, { json: { digests: [] } }),
      400,
    ],
    [
      'manifest over the limit',
      raw('POST', `/api2/json/writer/${writer.session}/finish`, {
        body: Buffer.alloc(LIMITS.maxManifestBody + 1),
        type: CONTENT_TYPE.octets,
      }),
      413,
    ],
    [
      'upload declared over the limit',
      raw('POST', `/api2/json/writer/${writer.session}/chunks`, {
        body: Buffer.alloc(40),
        type: CONTENT_TYPE.chunkFrames,
        headers: { 'content-length': String(LIMITS.maxBatchBytes * 2) },
      }).catch(() => ({
        status: 413,
        body: { error: { code: 'FERRY_ERR_TOO_LARGE', message: 'connection refused the body' } },
      })),
    ],
    [
      'frame longer than a chunk',
      raw('POST', `/api2/json/writer/${writer.session}/chunks`, {
        body: encodeFrameHeader(fx.digests[0] as Digest, 'ok', LIMITS.maxChunkBlob + 1),
        type: CONTENT_TYPE.chunkFrames,
      }),
      413,
    ],
    ['unknown route', raw('GET', '/api2/json/admin/nothing-here'), 404],
    ['wrong method', raw('DELETE', '/api2/json/version'), 404],
  ];
  for (const [what, pending, status] of cases) assertRefused(await pending, what, status);
  assert.equal((await client.version()).product, 'ferry');
  assert.ok(world.server.stats().sessions >= 2);
});

test('a truncated chunk upload is a 422 that stores no part of the cut chunk, and the server keeps serving', async (t) => {
  const { raw, ds, client, world, creds } = await hostileWorld(t);
  const { writer } = await openSessions(raw);
  const whole = Buffer.from('a whole chunk');
  const cut = seededBytes(5, 64 * 1024); // incompressible: its blob is as long as its data
  const wholeBlob = encodeBlob(whole);
  const cutBlob = encodeBlob(cut);
  const body = Buffer.concat([
    encodeFrameHeader(digestOf(whole), 'ok', wholeBlob.length),
    wholeBlob,
    encodeFrameHeader(digestOf(cut), 'ok', cutBlob.length),
    cutBlob.subarray(0, cutBlob.length >> 1),
  ]);
  const r = await raw('POST', `/api2/json/writer/${writer.session}/chunks`, {
    body,
    type: CONTENT_TYPE.chunkFrames,
  });
  assertRefused(r, 'truncated frame', 422);
  assert.equal(r.body.error?.code, 'FERRY_ERR_TRUNCATED');
  assert.equal(ds.chunks.has(digestOf(cut)), false);
  assert.equal(await ds.chunks.fileSize(digestOf(cut)), undefined);
  assert.equal(ds.chunks.has(digestOf(whole)), true, 'the whole chunk before the cut was verified and kept');
  const header = await raw('POST', `/api2/json/writer/${writer.session}/chunks`, {
    body: encodeFrameHeader(digestOf(cut), 'ok', 10).subarray(0, 20),
    type: CONTENT_TYPE.chunkFrames,
  });
  assertRefused(header, 'truncated header', 422);

  // A client that goes away in the middle of a body.
  const url = new URL(world.server.url);
  const socket = tlsConnect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false });
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  socket.write(
    [
      `POST /api2/json/writer/${writer.session}/chunks HTTP/1.1`,
      `host: ${url.host}`,
      `authorization: ${authorizationHeader(creds.authId, creds.secret)}`,
      `content-type: ${CONTENT_TYPE.chunkFrames}`,
      `content-length: ${40 + cutBlob.length}`,
      '',
      '',
    ].join('\r\n'),
  );
  socket.write(
    Buffer.concat([encodeFrameHeader(digestOf(cut), 'ok', cutBlob.length), cutBlob.subarray(0, 100)]),
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  socket.destroy();
  assert.equal((await client.listGroups('store1', root)).length, 2, 'the server still serves');
  assert.equal(ds.chunks.has(digestOf(cut)), false);
  // The session itself still works after all that.
  const ok = await raw('POST', `/api2/json/writer/${writer.session}/known`, {
    json: { digests: [digestOf(whole)] },
  });
  assert.deepEqual(ok.body.data, [true]);
  assert.equal((await client.listSnapshots('store1', root, parseGroup('vm/1'))).length, 1);
});

for (const insecureHttp of [false, true]) {
  test(`a chunk upload refused midway does not hold up the next request on its connection (${insecureHttp ? 'HTTP' : 'HTTPS'})`, async (t) => {
    const world = await startServerWorld(t, { insecureHttp });
    const creds = await world.token('admin@pam!t', [['/', 'admin']]);
    // One connection: the next request has to go where the refused upload went.
    const client = world.client(creds, { connections: 1 });
    const writer = await client.openWriter('store1', root, {
      group: parseGroup('vm/2'),
      time: T0,
    });
    const bad = seededBytes(6, 1024);
    // A wrong digest first, then 48 MiB the server never needs to read: most of it is still unsent when it answers.
    const chunks = [{ digest: digestOf(Buffer.from('not these bytes')), blob: encodeBlob(bad) }];
    for (let i = 0; i < 12; i++) {
      const data = seededBytes(100 + i, 4 * 1024 * 1024);
      chunks.push({ digest: digestOf(data), blob: encodeBlob(data) });
    }
    await assert.rejects(writer.uploadChunks(chunks), (err) => String(err).includes('digest mismatch'));
    const started = performance.now();
    assert.deepEqual(await writer.known([digestOf(bad)]), [false]);
    // Had the rest of the refused body been left unread on the connection, this would wait for the keep-alive timeout
    // (65 s), get a reset and be sent again.
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 20, `the next request took ${seconds.toFixed(1)} s`);
  });
}
