import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { readAclConfig, readTokenConfig, writeAclConfig, writeTokenConfig } from '../../src/config/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { createLogger } from '../../src/log/index.js';
import { parseGroup, parseNamespace } from '../../src/model/index.js';
import { AUTH_SCHEME } from '../../src/protocol/index.js';
import { FerryClient } from '../../src/remote/index.js';
import { Authenticator } from '../../src/server/authenticator.js';
import { startServer } from '../../src/server/index.js';
import { addToken, startServerWorld } from '../helpers/server.js';
import { writeTestSnapshot } from '../helpers/snapshots.js';
import { log, tempDir } from '../helpers/world.js';

const T0 = Date.UTC(2026, 0, 1) / 1000;
const root = parseNamespace('');

test('missing, malformed, unknown and wrong credentials get 401; the right secret gets in', async (t) => {
  const world = await startServerWorld(t);
  const good = await world.token('u@pam!t', [['/', 'reader']]);
  const cases = [
    { authId: 'u@pam!t', secret: 'wrong' },
    { authId: 'nobody@pam!t', secret: good.secret },
    { authId: 'u@pam!other', secret: good.secret },
  ];
  for (const credentials of cases) {
    await assert.rejects(world.client(credentials).version(), (err) => {
      assert.ok(isFerryError(err, 'FERRY_ERR_UNAUTHORIZED'), String(err));
      assert.equal(err.message.includes(good.secret), false);
      return true;
    });
  }
  for (const authorization of [
    undefined,
    'Basic dTpw',
    'PBSAPIToken u@pam!t',
    `PBSAPIToken ${'x'.repeat(2000)}`,
  ]) {
    const res = await fetchRaw(world.server.url, '/api2/json/version', authorization);
    assert.equal(res.status, 401, String(authorization).slice(0, 20));
    assert.equal(res.body.error.code, 'FERRY_ERR_UNAUTHORIZED');
  }
  assert.equal((await world.client(good).version()).product, 'ferry');
});

test('a revoked token gets 401 on its next request, though its check was cached', async (t) => {
  const world = await startServerWorld(t);
  const keep = await world.token('keep@pam!t', [['/', 'reader']]);
  const gone = await world.token('gone@pam!t', [['/', 'reader']]);
  const client = world.client(gone);
  await client.version();
  await client.version(); // served from the cache
  await writeTokenConfig(
    world.home,
    (await readTokenConfig(world.home)).filter((e) => e.authId !== 'gone@pam!t'),
  );
  await assert.rejects(client.version(), (err) => isFerryError(err, 'FERRY_ERR_UNAUTHORIZED'));
  assert.equal((await world.client(keep).version()).product, 'ferry');
});

test('requests that arrive together with the same token share one scrypt check, right or wrong', async (t) => {
  const home = await tempDir(t);
  const good = await addToken(home, 'u@pam!t');
  const auth = new Authenticator(home);
  const header = (secret: string) => `${AUTH_SCHEME} ${good.authId}:${secret}`;
  const right = await Promise.all(Array.from({ length: 16 }, () => auth.authenticate(header(good.secret))));
  assert.deepEqual(new Set(right), new Set([good.authId]));
  assert.equal(auth.verifications, 1);
  await auth.authenticate(header(good.secret)); // cached
  assert.equal(auth.verifications, 1);
  const wrong = await Promise.allSettled(Array.from({ length: 8 }, () => auth.authenticate(header('nope'))));
  for (const r of wrong)
    assert.ok(r.status === 'rejected' && isFerryError(r.reason, 'FERRY_ERR_UNAUTHORIZED'), String(r));
  assert.equal(auth.verifications, 2);
  // A failure is not remembered: the next wrong attempt is checked again.
  await assert.rejects(auth.authenticate(header('nope')), (err) =>
    isFerryError(err, 'FERRY_ERR_UNAUTHORIZED'),
  );
  assert.equal(auth.verifications, 3);
});

test('a wrong certificate fingerprint fails before any request is sent, naming both fingerprints', async (t) => {
  const world = await startServerWorld(t);
  const creds = await world.token('u@pam!t', [['/', 'reader']]);
  const wrong = Array.from({ length: 32 }, () => 'ab').join(':');
  const client = world.client(creds, { fingerprint: wrong });
  await assert.rejects(client.version(), (err) => {
    assert.ok(isFerryError(err, 'FERRY_ERR_TLS_FINGERPRINT'), String(err));
    assert.ok(err.message.includes(wrong), err.message);
    assert.ok(err.message.includes(world.server.fingerprint as string), err.message);
    return true;
  });
  assert.equal(world.server.stats().requests, 0);
  assert.equal(client.stats().bytesIn, 0);
});

test('without a pinned fingerprint a self-signed certificate is not trusted', async (t) => {
  const world = await startServerWorld(t);
  const creds = await world.token('u@pam!t', [['/', 'reader']]);
  const client = new FerryClient({ url: world.server.url, ...creds, log, retries: 0 });
  t.after(() => client.close());
  await assert.rejects(client.version(), (err) => {
    assert.ok(isFerryError(err, 'FERRY_ERR_NETWORK'), String(err));
    assert.match(err.message, /not trusted.*fingerprint/);
    return true;
  });
  assert.equal(world.server.stats().requests, 0);
});

test('plain HTTP serves on loopback and is refused elsewhere, by the server and by the client', async (t) => {
  const world = await startServerWorld(t, { insecureHttp: true });
  assert.match(world.server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(world.server.fingerprint, null);
  const creds = await world.token('u@pam!t', [['/', 'reader']]);
  assert.equal((await world.client(creds).version()).product, 'ferry');
  const dir = await tempDir(t);
  await assert.rejects(
    startServer({ home: dir, listen: { host: '0.0.0.0', port: 0 }, insecureHttp: true, log }),
    (err) => isFerryError(err, 'FERRY_ERR_USAGE') && /loopback/.test(err.message),
  );
  assert.throws(
    () => new FerryClient({ url: 'http://192.0.2.1:8007', ...creds, log }),
    (err) => isFerryError(err, 'FERRY_ERR_USAGE'),
  );
});

test('roles: reader lists but cannot write or delete; backup deletes only its own groups; admin deletes any', async (t) => {
  const world = await startServerWorld(t);
  const ds = world.store('store1');
  await writeTestSnapshot(ds, { group: 'vm/1', time: T0, chunks: 1, owner: 'b@pam!t' });
  await writeTestSnapshot(ds, { group: 'vm/2', time: T0, chunks: 1, owner: 'someone@pam' });
  await writeTestSnapshot(ds, { group: 'vm/3', time: T0, chunks: 1, owner: 'someone@pam' });
  const reader = world.client(await world.token('r@pam!t', [['/datastore/store1', 'reader']]));
  const backup = world.client(await world.token('b@pam!t', [['/datastore/store1', 'backup']]));
  const admin = world.client(await world.token('a@pam!t', [['/datastore', 'admin']]));
  const none = world.client(await world.token('n@pam!t'));
  const forbidden = (err: unknown) => isFerryError(err, 'FERRY_ERR_FORBIDDEN');

  assert.equal((await reader.listGroups('store1', root)).length, 3);
  await assert.rejects(reader.deleteGroup('store1', root, parseGroup('vm/1')), forbidden);
  await assert.rejects(reader.createNamespace('store1', parseNamespace('x')), forbidden);
  await assert.rejects(reader.openWriter('store1', root, { group: parseGroup('vm/9'), time: T0 }), forbidden);
  await assert.rejects(none.listGroups('store1', root), forbidden);
  assert.deepEqual(await none.listDatastores(), []);

  await assert.rejects(backup.deleteGroup('store1', root, parseGroup('vm/2')), forbidden);
  await assert.rejects(
    backup.deleteSnapshot('store1', root, { group: parseGroup('vm/2'), time: T0 }),
    forbidden,
  );
  await assert.rejects(backup.deleteNamespace('store1', parseNamespace('x')), forbidden);
  await backup.createNamespace('store1', parseNamespace('x'));
  assert.deepEqual(await backup.deleteGroup('store1', root, parseGroup('vm/1')), {
    removedSnapshots: 1,
    protectedKept: 0,
  });

  await admin.deleteGroup('store1', root, parseGroup('vm/2'));
  await admin.deleteSnapshot('store1', root, { group: parseGroup('vm/3'), time: T0 });
  await admin.deleteNamespace('store1', parseNamespace('x'));
  assert.deepEqual(await ds.listGroups(root).then((g) => g.map((x) => x.group.id)), ['3']);
});

test('an ACL change takes effect on the next request, without a restart', async (t) => {
  const world = await startServerWorld(t);
  const client = world.client(await world.token('u@pam!t', [['/datastore/store1', 'reader']]));
  assert.deepEqual(await client.listGroups('store1', root), []);
  await writeAclConfig(
    world.home,
    (await readAclConfig(world.home)).filter((e) => e.authId !== 'u@pam!t'),
  );
  await assert.rejects(client.listGroups('store1', root), (err) => isFerryError(err, 'FERRY_ERR_FORBIDDEN'));
});

test('secrets never reach the server log, even at debug level and on failures', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const world = await startServerWorld(t, { log: createLogger({ level: 'debug', destination: sink }) });
  const creds = await world.token('u@pam!t', [['/', 'reader']]);
  const ok = world.client(creds);
  const bad = world.client({ authId: creds.authId, secret: `${creds.secret}x` });
  await ok.version();
  await ok.listGroups('store1', root);
  await assert.rejects(bad.version());
  await assert.rejects(ok.listGroups('../etc', root));
  await assert.rejects(ok.listGroups('store1', parseNamespace('missing')));
  assert.ok(lines.length > 0, 'the server logged nothing at debug level');
  assert.equal(lines.join('').includes(creds.secret), false);
});

async function fetchRaw(url: string, path: string, authorization: string | undefined) {
  const { Pool } = await import('undici');
  const pool = new Pool(url, { connect: { rejectUnauthorized: false } });
  try {
    const res = await pool.request({
      method: 'GET',
      path,
      headers: authorization === undefined ? {} : { authorization },
    });
    return { status: res.statusCode, body: (await res.body.json()) as { error: { code: string } } };
  } finally {
    await pool.close();
  }
}
