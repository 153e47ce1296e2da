/**
 * Remotes and sync jobs changed over the API (DESIGN §4: "API resources for the UI and for scripts"): the same
 * checks and files as `ferry remote` and `ferry sync-job`, a secret that goes in but never comes out, admin on `/`
 * only, and no change lost when several writers edit at once.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  readRemoteConfig,
  readSyncConfig,
  remoteConfigPath,
  syncConfigPath,
} from '../../src/config/index.js';
import { isFerryError } from '../../src/errors/index.js';
import type { FerryClient } from '../../src/remote/index.js';
import { ferry } from '../helpers/cli.js';
import { startServerWorld } from '../helpers/server.js';

const FINGERPRINT = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0')).join(':');

/** Asserts that `call` fails with `code` (and a message matching `message`) and leaves `file` as it was. */
async function refused(
  call: () => Promise<unknown>,
  code: string,
  message: RegExp,
  file: string,
): Promise<void> {
  const before = await readFile(file, 'utf8').catch(() => '(missing)');
  await assert.rejects(call(), (err) => {
    assert.ok(isFerryError(err, code as never), `${code} expected, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
  assert.equal(await readFile(file, 'utf8').catch(() => '(missing)'), before, `${file} changed`);
}

test('an admin on / adds, reads, changes and removes a remote over the API; the secret goes in and never comes out', async (t) => {
  const world = await startServerWorld(t);
  const admin = world.client(await world.token('admin@pam!t', [['/', 'admin']]));
  const file = remoteConfigPath(world.home);
  const secret = 'first-secret-0123456789';
  const answers: unknown[] = [];
  const keep = <T>(value: T): T => {
    answers.push(value);
    return value;
  };

  const created = keep(
    await admin.createRemote({
      name: 'site-a',
      host: 'backup-a.example.com',
      'auth-id': 'sync@pbs!site-b',
      password: secret,
      fingerprint: FINGERPRINT.toUpperCase(),
      comment: 'offsite copy',
    }),
  );
  assert.deepEqual(created, {
    name: 'site-a',
    host: 'backup-a.example.com',
    port: null,
    'auth-id': 'sync@pbs!site-b',
    fingerprint: FINGERPRINT,
    scheme: 'https',
    comment: 'offsite copy',
  });
  // On disk as `ferry remote add` writes it: mode 0600, the secret base64-encoded.
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.match(
    await readFile(file, 'utf8'),
    new RegExp(`password ${Buffer.from(secret).toString('base64')}`),
  );
  assert.deepEqual(keep(await admin.readRemote('site-a')), created);

  const changed = keep(
    await admin.updateRemote('site-a', { port: 8443, delete: ['fingerprint', 'comment'] }),
  );
  assert.deepEqual(
    [changed.port, changed.fingerprint, changed.comment, changed.host],
    [8443, null, null, 'backup-a.example.com'],
  );
  assert.equal(
    (await readRemoteConfig(world.home))[0]?.secret,
    secret,
    'a change that names no secret keeps it',
  );
  keep(await admin.updateRemote('site-a', { password: 'second-secret-9876543210' }));
  assert.equal((await readRemoteConfig(world.home))[0]?.secret, 'second-secret-9876543210');
  keep(await admin.listRemotes());

  // Bad input: a clear error, and remote.cfg as it was.
  await refused(
    () => admin.createRemote({ name: 'site-a', host: 'h.example.com', 'auth-id': 'a@pam!t', password: 's' }),
    'FERRY_ERR_ALREADY_EXISTS',
    /remote site-a exists already/,
    file,
  );
  for (const [body, message] of [
    [{ fingerprint: 'zz' }, /certificate fingerprint/],
    [{ scheme: 'http' }, /plain HTTP is only allowed to a loopback host/],
    [{ comment: 'one\n\tport 1' }, /key comment: .* is more than one line/],
    [{ host: 'not a host' }, /host/],
  ] as const) {
    await refused(
      () =>
        admin.createRemote({
          name: 'site-b',
          host: 'b.example.com',
          'auth-id': 'a@pam!t',
          password: 's',
          ...body,
        }),
      'FERRY_ERR_INVALID_VALUE',
      message,
      file,
    );
  }
  await refused(
    () => admin.createRemote({ name: '../x', host: 'b.example.com', 'auth-id': 'a@pam!t', password: 's' }),
    'FERRY_ERR_INVALID_VALUE',
    /remote name/,
    file,
  );
  // A key the schema does not know (the secret's CLI name) is refused, not ignored.
  await refused(
    () => admin.updateRemote('site-a', { secret: 'x' } as never),
    'FERRY_ERR_INVALID_VALUE',
    /secret/,
    file,
  );
  await refused(() => admin.readRemote('nope'), 'FERRY_ERR_NOT_FOUND', /remote nope is not configured/, file);
  await refused(() => admin.deleteRemote('nope'), 'FERRY_ERR_NOT_FOUND', /remote nope/, file);

  // A datastore's admin is not enough.
  const storeAdmin = world.client(await world.token('store-admin@pam!t', [['/datastore/store1', 'admin']]));
  await refused(
    () =>
      storeAdmin.createRemote({ name: 'site-c', host: 'c.example.com', 'auth-id': 'a@pam!t', password: 's' }),
    'FERRY_ERR_FORBIDDEN',
    /./,
    file,
  );
  await refused(() => storeAdmin.updateRemote('site-a', { port: 1 }), 'FERRY_ERR_FORBIDDEN', /./, file);
  await refused(() => storeAdmin.deleteRemote('site-a'), 'FERRY_ERR_FORBIDDEN', /./, file);
  await refused(() => storeAdmin.readRemote('site-a'), 'FERRY_ERR_FORBIDDEN', /./, file);
  // The role is checked before the body: a request it could not make anyway learns nothing of what a valid one is.
  await refused(() => admin.createRemote({ name: 'x' } as never), 'FERRY_ERR_INVALID_VALUE', /body/, file);
  await refused(
    () => storeAdmin.createRemote({ name: 'x' } as never),
    'FERRY_ERR_FORBIDDEN',
    /lacks role admin on \//,
    file,
  );

  // A remote a sync job uses stays until the job is gone.
  await admin.createSyncJob({ id: 'nightly', store: 'store1', remote: 'site-a', 'remote-store': 'store9' });
  await refused(
    () => admin.deleteRemote('site-a'),
    'FERRY_ERR_IN_USE',
    /remote site-a is used by sync job nightly/,
    file,
  );
  await admin.deleteSyncJob('nightly');
  await admin.deleteRemote('site-a');
  assert.deepEqual(await admin.listRemotes(), []);

  const all = JSON.stringify(answers);
  for (const s of [secret, 'second-secret-9876543210'])
    for (const form of [s, Buffer.from(s).toString('base64')]) assert.equal(all.includes(form), false);
});

test('sync jobs over the API: made with the checks sync.cfg gets, changed key by key, removed', async (t) => {
  const world = await startServerWorld(t, { stores: ['store1', 'store2'] });
  const admin = world.client(await world.token('admin@pam!t', [['/', 'admin']]));
  const file = syncConfigPath(world.home);
  await admin.createRemote({ name: 'site-a', host: 'a.example.com', 'auth-id': 'a@pam!t', password: 's' });

  const asSent = {
    id: 'nightly',
    store: 'store1',
    remote: 'site-a',
    'remote-store': 'store9',
    'worker-threads': 4,
    'group-filter': ['type:vm', 'exclude:group:vm/666'],
    'remove-vanished': true,
    'rate-in': '20MiB',
  };
  const job = await admin.createSyncJob(asSent);
  assert.deepEqual(job, asSent, 'the job comes back as sent, JSON types kept');
  // What the CLI and `sync-job run` read: the same job, every value parsed.
  const [onDisk] = await readSyncConfig(world.home);
  assert.deepEqual(
    [onDisk?.workerThreads, onDisk?.removeVanished, onDisk?.rateIn?.rate, onDisk?.groupFilter.length],
    [4, true, 20 * 1024 * 1024, 2],
  );
  assert.deepEqual(await admin.readSyncJob('nightly'), job);

  const base = { store: 'store1', remote: 'site-a', 'remote-store': 'store9' };
  for (const [body, code, message] of [
    [{ ...base, id: 'nightly' }, 'FERRY_ERR_ALREADY_EXISTS', /sync job nightly exists already/],
    [{ ...base, id: 'j2', remote: 'nope' }, 'FERRY_ERR_INVALID_VALUE', /remote nope is not configured/],
    [
      { ...base, id: 'j2', store: 'store7' },
      'FERRY_ERR_INVALID_VALUE',
      /store store7 is not a datastore of this host/,
    ],
    [
      { id: 'j2', store: 'store1', 'remote-store': 'store1' },
      'FERRY_ERR_INVALID_VALUE',
      /sync j2: key remote-store: can't sync to same datastore/,
    ],
    [{ ...base, id: 'j2', 'worker-threads': 99 }, 'FERRY_ERR_INVALID_VALUE', /sync j2: key worker-threads/],
    [{ ...base, id: 'j2', 'max-depth': 'deep' }, 'FERRY_ERR_INVALID_VALUE', /key max-depth/],
    [{ ...base, id: 'j2', colour: 'blue' }, 'FERRY_ERR_INVALID_VALUE', /unknown key "colour"/],
    [{ ...base, id: 'j2', comment: 'x\n\tremote-ns evil' }, 'FERRY_ERR_INVALID_VALUE', /more than one line/],
    [{ ...base, id: 'bad id' }, 'FERRY_ERR_INVALID_VALUE', /sync job id/],
  ] as const) {
    await refused(() => admin.createSyncJob(body as never), code, message, file);
  }

  // A change sets the keys it names and deletes those in `delete`; the rest stays.
  const changed = await admin.updateSyncJob('nightly', {
    'worker-threads': 8,
    comment: 'to site A',
    delete: ['group-filter', 'rate-in'],
  });
  assert.deepEqual(changed, {
    id: 'nightly',
    store: 'store1',
    remote: 'site-a',
    'remote-store': 'store9',
    'worker-threads': 8,
    'remove-vanished': true,
    comment: 'to site A',
  });
  // Deleting the remote makes it a local job, whose other side must then be a datastore here.
  await refused(
    () => admin.updateSyncJob('nightly', { delete: ['remote'] }),
    'FERRY_ERR_INVALID_VALUE',
    /remote-store store9 is not a datastore of this host/,
    file,
  );
  const local = await admin.updateSyncJob('nightly', { 'remote-store': 'store2', delete: ['remote'] });
  assert.equal(local['remote'], undefined);
  assert.equal(local['remote-store'], 'store2');
  for (const [body, message] of [
    [{ delete: ['colour'] }, /no key "colour" to delete/],
    [{ comment: 'x', delete: ['comment'] }, /comment is both set and deleted/],
    [{ id: 'renamed' }, /its id cannot be changed/],
    [{ delete: ['store'] }, /key store/],
  ] as const) {
    await refused(
      () => admin.updateSyncJob('nightly', body as never),
      'FERRY_ERR_INVALID_VALUE',
      message,
      file,
    );
  }
  await refused(() => admin.readSyncJob('nope'), 'FERRY_ERR_NOT_FOUND', /sync job nope does not exist/, file);

  const storeAdmin = world.client(await world.token('store-admin@pam!t', [['/datastore/store1', 'admin']]));
  await refused(() => storeAdmin.createSyncJob({ ...base, id: 'j3' }), 'FERRY_ERR_FORBIDDEN', /./, file);
  await refused(
    () => storeAdmin.updateSyncJob('nightly', { comment: 'x' }),
    'FERRY_ERR_FORBIDDEN',
    /./,
    file,
  );
  await refused(() => storeAdmin.deleteSyncJob('nightly'), 'FERRY_ERR_FORBIDDEN', /./, file);

  await admin.deleteSyncJob('nightly');
  assert.deepEqual(await admin.listSyncJobs(), []);
  await refused(
    () => admin.deleteSyncJob('nightly'),
    'FERRY_ERR_NOT_FOUND',
    /sync job nightly does not exist/,
    file,
  );
});

test('changes made at once, over the API and by `ferry remote add` and `ferry acl set` on the host, are all kept', async (t) => {
  const world = await startServerWorld(t);
  const admin = world.client(await world.token('admin@pam!t', [['/', 'admin']]));
  const add = (client: FerryClient, i: number) =>
    client.createRemote({
      name: `api-${i}`,
      host: `h${i}.example.com`,
      'auth-id': 'a@pam!t',
      password: `s${i}`,
    });
  const cli = (i: number) =>
    ferry(world.home, [
      'remote',
      'add',
      `cli-${i}`,
      '--host',
      `c${i}.example.com`,
      '--auth-id',
      'a@pam!t',
      '--secret',
      `c${i}`,
    ]);
  // `ferry acl set` on the host at the same time: acl.cfg takes the same kind of lock.
  const grant = (i: number) =>
    ferry(world.home, ['acl', 'set', `/datastore/store1/ns${i}`, `u${i}@pam!t`, 'reader']);
  const [cliResults] = await Promise.all([
    Promise.all([cli(0), cli(1), grant(0), grant(1)]),
    Promise.all(Array.from({ length: 12 }, (_, i) => add(admin, i))),
  ]);
  for (const r of cliResults) assert.equal(r.code, 0, r.stderr);
  const names = (await readRemoteConfig(world.home)).map((r) => r.name).sort();
  assert.deepEqual(names, [...Array.from({ length: 12 }, (_, i) => `api-${i}`).sort(), 'cli-0', 'cli-1']);
  const acl = await readFile(join(world.home, 'acl.cfg'), 'utf8');
  for (const i of [0, 1]) assert.match(acl, new RegExp(`/datastore/store1/ns${i}.*u${i}@pam!t`));
  // Each kept its own secret.
  for (const r of await readRemoteConfig(world.home))
    assert.equal(r.secret, r.name.replace(/^api-/, 's').replace(/^cli-/, 'c'));
});
