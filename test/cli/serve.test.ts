import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type TestContext, test } from 'node:test';
import { startWanSimulator } from '../../bench/wan-simulator.js';
import { isFerryError } from '../../src/errors/index.js';
import { verifyChunk } from '../../src/format/index.js';
import { type Digest, parseGroup, parseNamespace, parseSnapshot } from '../../src/model/index.js';
import { FerryClient } from '../../src/remote/index.js';
import { ferry, ferryJson, finished, spawnFerry } from '../helpers/cli.js';
import { seededBytes } from '../helpers/random.js';
import { log, tempDir } from '../helpers/world.js';

interface Ready {
  url: string;
  fingerprint: string | null;
}

/** Starts `ferry serve` in a subprocess and waits for its JSON line. */
async function serve(
  t: TestContext,
  home: string,
  args: string[] = [],
): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = spawnFerry(home, ['serve', '--listen', '127.0.0.1:0', ...args]);
  t.after(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await once(lines, 'line')) as [string];
  return { child, ready: JSON.parse(line) as Ready };
}

async function home(t: TestContext): Promise<{ dir: string; home: string }> {
  const dir = await tempDir(t);
  const h = join(dir, 'home');
  await ferryJson(h, ['datastore', 'create', 'store1', join(dir, 'store1')]);
  return { dir, home: h };
}

test('ferry serve prints one JSON line with the real port and the certificate fingerprint, and exits 0 on SIGTERM', async (t) => {
  const { home: h } = await home(t);
  const { child, ready } = await serve(t, h);
  const done = finished(child);
  assert.match(ready.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(ready.url, 'https://127.0.0.1:0');
  const cert = await ferryJson<{ fingerprint: string; path: string }>(h, ['cert', 'info']);
  assert.equal(ready.fingerprint, cert.fingerprint);
  assert.match(cert.fingerprint, /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
  assert.equal((await stat(join(h, 'proxy.key'))).mode & 0o777, 0o600);
  const created = await ferryJson<{ 'auth-id': string; secret: string }>(h, ['token', 'create', 'u@pam!t']);
  const client = new FerryClient({
    url: ready.url,
    authId: 'u@pam!t',
    secret: created.secret,
    fingerprint: cert.fingerprint,
    log,
  });
  t.after(() => client.close());
  assert.equal((await client.version()).product, 'ferry');
  child.kill('SIGTERM');
  const run = await done;
  assert.equal(run.code, 0, run.stderr);
});

test('SIGTERM lets an in-flight batch download finish before ferry serve exits 0', async (t) => {
  const { dir, home: h } = await home(t);
  await writeFile(join(dir, 'disk.raw'), seededBytes(3, 48 * 1024 * 1024));
  const backup = await ferryJson<{ snapshot: string }>(h, [
    'backup',
    'store1',
    'vm/1',
    `drive.img:${join(dir, 'disk.raw')}`,
    '--time',
    '2026-01-01T00:00:00Z',
  ]);
  const created = await ferryJson<{ secret: string }>(h, ['token', 'create', 'r@pam!t']);
  await ferryJson(h, ['acl', 'set', '/datastore/store1', 'r@pam!t', 'reader']);
  const { child, ready } = await serve(t, h);
  const done = finished(child);
  const client = new FerryClient({
    url: ready.url,
    authId: 'r@pam!t',
    secret: created.secret,
    fingerprint: ready.fingerprint as string,
    log,
    connections: 1,
  });
  t.after(() => client.close());
  const snapshot = parseSnapshot(backup.snapshot);
  const reader = await client.openReader('store1', parseNamespace(''), parseGroup('vm/1'));
  const { parseFixedIndex } = await import('../../src/format/index.js');
  const index = parseFixedIndex(await reader.download(snapshot.time, 'drive.img.fidx'));
  const digests: Digest[] = Array.from({ length: index.count }, (_, i) => index.digestAt(i));
  let received = 0;
  let signalled = false;
  await reader.fetchChunks(digests, async (digest, blob) => {
    verifyChunk(blob, digest, { expectedSize: 4 * 1024 * 1024 });
    received++;
    if (!signalled) {
      signalled = true;
      child.kill('SIGTERM'); // mid-stream: 44 MiB of this response are still to come
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
  assert.equal(received, 12);
  const run = await done;
  assert.equal(run.code, 0, run.stderr);
  await assert.rejects(client.version(), (err) => isFerryError(err, 'FERRY_ERR_NETWORK'));
});

test('--insecure-http serves plain HTTP on loopback and is refused on other addresses', async (t) => {
  const { home: h } = await home(t);
  const refused = await ferry(h, ['serve', '--listen', '0.0.0.0:0', '--insecure-http']);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /plain HTTP is only allowed on a loopback address/);
  const { child, ready } = await serve(t, h, ['--insecure-http']);
  assert.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(ready.fingerprint, null);
  child.kill('SIGTERM');
  assert.equal((await finished(child)).code, 0);
});

test('a token removed with ferry token remove gets 401 from the running server at once', async (t) => {
  const { home: h } = await home(t);
  const a = await ferryJson<{ secret: string }>(h, ['token', 'create', 'a@pam!t', '--comment', 'kept']);
  const b = await ferryJson<{ secret: string }>(h, ['token', 'create', 'b@pam!t']);
  const { ready } = await serve(t, h);
  const connect = (authId: string, secret: string) => {
    const c = new FerryClient({
      url: ready.url,
      authId,
      secret,
      fingerprint: ready.fingerprint as string,
      log,
    });
    t.after(() => c.close());
    return c;
  };
  const ca = connect('a@pam!t', a.secret);
  const cb = connect('b@pam!t', b.secret);
  await ca.version();
  await cb.version();
  const listed = await ferry(h, ['token', 'list']);
  assert.equal(
    listed.stdout.includes(a.secret) || listed.stdout.includes(b.secret),
    false,
    'token list shows a secret',
  );
  assert.match(listed.stdout, /a@pam!t .* kept/);
  assert.equal((await ferry(h, ['token', 'remove', 'b@pam!t'])).code, 0);
  await assert.rejects(cb.version(), (err) => isFerryError(err, 'FERRY_ERR_UNAUTHORIZED'));
  await ca.version();
  assert.equal((await stat(join(h, 'token.shadow'))).mode & 0o777, 0o600);
  const again = await ferry(h, ['token', 'remove', 'b@pam!t']);
  assert.equal(again.code, 10, again.stderr);
  assert.equal((await ferry(h, ['token', 'create', 'not-a-token@pam'])).code, 2);
});

test('ferry acl set, list and remove manage roles; bad paths and roles are usage errors', async (t) => {
  const { home: h } = await home(t);
  await ferryJson(h, ['acl', 'set', '/datastore/store1/a', 'u@pam!t', 'backup']);
  await ferryJson(h, ['acl', 'set', '/', 'root@pam!admin', 'admin', '--no-propagate']);
  await ferryJson(h, ['acl', 'set', '/datastore/store1/a', 'u@pam!t', 'reader']);
  assert.deepEqual(await ferryJson(h, ['acl', 'list']), [
    { path: '/', 'auth-id': 'root@pam!admin', role: 'admin', propagate: false },
    { path: '/datastore/store1/a', 'auth-id': 'u@pam!t', role: 'reader', propagate: true },
  ]);
  await ferryJson(h, ['acl', 'remove', '/', 'root@pam!admin']);
  assert.equal((await ferryJson<unknown[]>(h, ['acl', 'list'])).length, 1);
  for (const args of [
    ['acl', 'set', '/datastore/../etc', 'u@pam!t', 'reader'],
    ['acl', 'set', 'datastore/store1', 'u@pam!t', 'reader'],
    ['acl', 'set', '/datastore/store1', 'u@pam!t', 'root'],
    ['acl', 'set', '/datastore/store1', 'nobody', 'reader'],
  ]) {
    const run = await ferry(h, args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
  }
  assert.equal((await ferry(h, ['acl', 'remove', '/', 'root@pam!admin'])).code, 10);
});

test('ferry remote add, update, list, scan and remove; the secret is stored base64 in a 0600 file and never printed', async (t) => {
  const { home: h } = await home(t);
  const created = await ferryJson<{ secret: string }>(h, ['token', 'create', 'sync@pam!job']);
  await ferryJson(h, ['acl', 'set', '/datastore/store1', 'sync@pam!job', 'reader']);
  const { ready } = await serve(t, h);
  const port = new URL(ready.url).port;
  const fingerprint = (ready.fingerprint as string).toUpperCase();
  const added = await ferry(h, [
    'remote',
    'add',
    'offsite',
    '--host',
    '127.0.0.1',
    '--port',
    port,
    '--auth-id',
    'sync@pam!job',
    '--secret',
    'wrong-secret',
    '--fingerprint',
    fingerprint,
    '--comment',
    'the other site',
  ]);
  assert.equal(added.code, 0, added.stderr);
  assert.equal(added.stdout.includes('wrong-secret'), false);
  const cfg = await import('node:fs/promises').then((fs) => fs.readFile(join(h, 'remote.cfg'), 'utf8'));
  assert.match(cfg, /^remote: offsite\n\thost 127\.0\.0\.1\n/);
  assert.ok(cfg.includes(`\tpassword ${Buffer.from('wrong-secret').toString('base64')}\n`), cfg);
  assert.ok(cfg.includes(`\tfingerprint ${ready.fingerprint}\n`), 'fingerprint stored lowercase');
  assert.equal((await stat(join(h, 'remote.cfg'))).mode & 0o777, 0o600);

  const denied = await ferry(h, ['remote', 'scan', 'offsite']);
  assert.equal(denied.code, 12, denied.stderr);
  assert.match(denied.stderr, /unknown API token or wrong secret/);
  await ferryJson(h, ['remote', 'update', 'offsite', '--secret', created.secret]);
  assert.deepEqual(await ferryJson(h, ['remote', 'scan', 'offsite']), [{ store: 'store1', comment: '' }]);
  // The remote's maintenance mode shows in the scan (the running server reads datastore.cfg afresh).
  await ferryJson(h, ['datastore', 'update', 'store1', '--maintenance-mode', 'read-only']);
  assert.deepEqual(await ferryJson(h, ['remote', 'scan', 'offsite']), [
    { store: 'store1', comment: '', maintenance: 'type=read-only' },
  ]);
  assert.match((await ferry(h, ['remote', 'scan', 'offsite'])).stdout, /store1\s+type=read-only/);
  await ferryJson(h, ['datastore', 'update', 'store1', '--delete', 'maintenance-mode']);

  const listed = await ferry(h, ['remote', 'list', '--output-format', 'json']);
  assert.equal(listed.stdout.includes(created.secret), false);
  assert.deepEqual(JSON.parse(listed.stdout), [
    {
      name: 'offsite',
      host: '127.0.0.1',
      port: Number(port),
      'auth-id': 'sync@pam!job',
      fingerprint: ready.fingerprint,
      scheme: 'https',
      comment: 'the other site',
    },
  ]);

  const wrongFp = await ferry(h, [
    'remote',
    'update',
    'offsite',
    '--fingerprint',
    Array(32).fill('00').join(':'),
  ]);
  assert.equal(wrongFp.code, 0);
  const pinned = await ferry(h, ['remote', 'scan', 'offsite']);
  assert.equal(pinned.code, 1, pinned.stderr);
  assert.match(pinned.stderr, /fingerprint .* expected 00:00/);

  for (const args of [
    [
      'remote',
      'add',
      'far',
      '--host',
      '192.0.2.7',
      '--auth-id',
      'a@pam!t',
      '--secret',
      's',
      '--scheme',
      'http',
    ],
    ['remote', 'add', 'x', '--host', 'h', '--auth-id', 'a@pam!t', '--secret', 's'],
    ['remote', 'add', 'bad/name', '--host', 'h', '--auth-id', 'a@pam!t', '--secret', 's'],
    ['remote', 'add', 'other', '--host', 'h', '--auth-id', 'a@pam!t', '--secret', 's', '--fingerprint', 'zz'],
    ['remote', 'add', 'other', '--host', 'h', '--auth-id', 'a@pam!t'],
  ]) {
    const run = await ferry(h, args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
  }
  await ferryJson(h, [
    'remote',
    'add',
    'bench',
    '--host',
    '127.0.0.1',
    '--auth-id',
    'a@pam!t',
    '--secret',
    's',
    '--scheme',
    'http',
  ]);
  await ferryJson(h, ['remote', 'remove', 'offsite']);
  assert.deepEqual(
    (await ferryJson<{ name: string }[]>(h, ['remote', 'list'])).map((r) => r.name),
    ['bench'],
  );
  assert.equal((await ferry(h, ['remote', 'scan', 'offsite'])).code, 10);
});

interface BenchmarkJson {
  cpu: { sha256: number; encode: number; decode: number; verify: number };
  link?: {
    remote: string;
    url: string;
    rttMs: number;
    rates: { connections: number; download: number; upload: number }[];
  };
}

test('ferry benchmark gives the CPU rates per chunk and, with --remote, round trip and rates over 1 and 4 connections', async (t) => {
  const { home: h } = await home(t);
  const created = await ferryJson<{ secret: string }>(h, ['token', 'create', 'bench@pam!t']);
  const { ready } = await serve(t, h);
  // 40 ms round trip and a 512 KiB window: one connection carries at most 12.5 MiB/s each way.
  const window = 512 * 1024;
  const wan = await startWanSimulator({
    target: { host: '127.0.0.1', port: Number(new URL(ready.url).port) },
    oneWayDelayMs: 20,
    windowBytes: window,
  });
  t.after(() => wan.close());
  const remote = ['--host', '127.0.0.1', '--port', String(wan.port), '--auth-id', 'bench@pam!t'];
  await ferryJson(h, [
    'remote',
    'add',
    'far',
    ...remote,
    '--secret',
    created.secret,
    '--fingerprint',
    ready.fingerprint as string,
  ]);

  const result = await ferryJson<BenchmarkJson>(h, ['benchmark', '--remote', 'far', '--seconds', '0.5']);
  for (const [name, rate] of Object.entries(result.cpu)) assert.ok(rate > 1, `${name}: ${rate} MiB/s`);
  const link = result.link;
  assert.ok(link !== undefined);
  assert.equal(link.url, `https://127.0.0.1:${wan.port}`);
  assert.ok(link.rttMs >= 38 && link.rttMs < 1000, `round trip ${link.rttMs} ms`);
  const [one, four] = link.rates;
  assert.equal(one?.connections, 1);
  assert.equal(four?.connections, 4);
  const cap = window / 0.04 / (1024 * 1024);
  for (const dir of ['download', 'upload'] as const) {
    assert.ok((one?.[dir] ?? 0) > 0 && (one?.[dir] ?? 0) <= cap * 1.1, `${dir}, 1 connection: ${one?.[dir]}`);
    // Four connections each get their own window: more than one can carry, whatever else the machine is doing.
    assert.ok((four?.[dir] ?? 0) > cap * 1.2, `${dir}, 4 connections: ${four?.[dir]} (one's limit ${cap})`);
  }
  assert.ok(wan.stats().connections >= 5, 'one connection, then four');

  const text = await ferry(h, ['benchmark', '--seconds', '0.1']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^SHA-256 +\d+\.\d MiB\/s$/m);
  assert.match(text.stdout, /^chunk verify \(CRC-32, zstd, SHA-256\) +\d+\.\d MiB\/s$/m);
  const missing = await ferry(h, ['benchmark', '--remote', 'nowhere']);
  assert.equal(missing.code, 10, missing.stderr);
  assert.equal((await ferry(h, ['benchmark', '--seconds', '0'])).code, 2);
});
