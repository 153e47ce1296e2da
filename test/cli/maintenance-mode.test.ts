/**
 * Maintenance mode (datastore.cfg `maintenance-mode`, PBS's `type=read-only|offline[,message=…]`): set and shown by
 * the CLI; read-only lets everything that only reads go on and refuses, with the operator's reason, everything that
 * would change the datastore — which then stays byte for byte as it was; offline refuses both; the server refuses in
 * the same way; the scheduler holds back the runs that would be refused and starts them once the maintenance ends.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { type TestContext, test } from 'node:test';
import { JobLauncher, Scheduler } from '../../src/cli/scheduler.js';
import {
  formatMaintenanceMode,
  parseMaintenanceMode,
  readDatastoreConfig,
  recordJobRun,
  writeDatastoreConfig,
} from '../../src/config/index.js';
import { FerryError } from '../../src/errors/index.js';
import { createLogger } from '../../src/log/index.js';
import { makeGroup, makeSnapshot, parseNamespace, SYSTEM_CLOCK } from '../../src/model/index.js';
import { Datastore } from '../../src/store/index.js';
import { FERRY_BIN, ferry, ferryJson } from '../helpers/cli.js';
import { BASE_TIME, fillDatastore } from '../helpers/fixtures.js';
import { startServerWorld } from '../helpers/server.js';
import { makePool, tempDir } from '../helpers/world.js';

/** Datastore `store` with vm/100 and vm/101, two snapshots each, and an empty datastore `copy`. */
async function world(t: TestContext) {
  const dir = await tempDir(t);
  const home = join(dir, 'home');
  await ferryJson(home, ['datastore', 'create', 'store', join(dir, 'store')]);
  await ferryJson(home, ['datastore', 'create', 'copy', join(dir, 'copy')]);
  const ds = await Datastore.open(join(dir, 'store'));
  await fillDatastore(ds, makePool(t), dir, { groups: ['vm/100', 'vm/101'], snapshots: 2, blocks: 1 });
  await ds.close();
  return { dir, home, storePath: join(dir, 'store') };
}

/** Every file of a datastore but Ferry's own index and locks: path, size, and the content's hash. */
async function fingerprint(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (relative(root, path) !== '.ferry') await walk(path);
      } else {
        const digest = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
        out.push(`${relative(root, path)} ${(await stat(path)).size} ${digest}`);
      }
    }
  };
  await walk(root);
  return out.sort();
}

const SNAPSHOT = `vm/100/${new Date(BASE_TIME * 1000).toISOString().replace('.000Z', 'Z')}`;

test('maintenance mode: parsed as PBS writes it, with the reason quoted where it must be', () => {
  assert.deepEqual(parseMaintenanceMode('read-only'), { type: 'read-only' });
  assert.deepEqual(parseMaintenanceMode('type=offline,message=disk swap'), {
    type: 'offline',
    message: 'disk swap',
  });
  const mode = { type: 'read-only', message: 'moving, "soon", back\\slash' } as const;
  assert.equal(formatMaintenanceMode(mode), 'type=read-only,message="moving, \\"soon\\", back\\\\slash"');
  assert.deepEqual(parseMaintenanceMode(formatMaintenanceMode(mode)), mode);
  for (const [text, why] of [
    ['', /empty/],
    ['type=readonly', /type must be read-only or offline, not "readonly"/],
    ['message=x', /type is missing/],
    ['type=offline,type=read-only', /type is given twice/],
    ['type=offline,colour=red', /unknown key "colour"/],
    ['type=offline,message="open', /quoted value does not end/],
    ['type=offline,', /ends with a comma/],
    ['type=offline,message=a, b', /expected key=value at " b" \(a message with a comma is quoted/],
  ] as const)
    assert.throws(() => parseMaintenanceMode(text), why, text);
});

test('read-only: reading, verifying and syncing from it go on; backup, sync into it, prune, forget, GC, namespaces and reindex are refused with the reason, and nothing in it changes; offline refuses reads too; ending it lets writes in again', async (t) => {
  const w = await world(t);
  const cfgPath = join(w.home, 'datastore.cfg');
  const before = await readFile(cfgPath, 'utf8');
  for (const [mode, why] of [
    ['type=readonly', /--maintenance-mode: type must be read-only or offline, not "readonly"/],
    ['message=soon', /--maintenance-mode: type is missing/],
    ['type=read-only,message=moving, back at 6', /--maintenance-mode: expected key=value/],
  ] as const) {
    const bad = await ferry(w.home, ['datastore', 'update', 'store', '--maintenance-mode', mode]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, why);
  }
  assert.equal(await readFile(cfgPath, 'utf8'), before);

  await ferryJson(w.home, [
    'datastore',
    'update',
    'store',
    '--maintenance-mode',
    'type=read-only,message="moving to the new disk, back at 06:00"',
  ]);
  const listed = await ferryJson<Record<string, unknown>[]>(w.home, ['datastore', 'list']);
  assert.equal(
    listed.find((s) => s['name'] === 'store')?.['maintenance-mode'],
    'type=read-only,message="moving to the new disk, back at 06:00"',
  );
  assert.equal(listed.find((s) => s['name'] === 'copy')?.['maintenance-mode'], undefined);
  assert.match(
    (await ferry(w.home, ['datastore', 'list'])).stdout,
    /read-only: moving to the new disk, back at 06:00/,
  );

  const untouched = await fingerprint(w.storePath);
  const image = join(w.dir, 'new.img');
  await writeFile(image, Buffer.alloc(4096, 7));
  const refused =
    /datastore store is in read-only maintenance mode \(moving to the new disk, back at 06:00\): only reading is allowed/;
  for (const [args, what] of [
    [['backup', 'store', 'vm/100', `drive-scsi0.img:${image}`], 'backup'],
    [['gc', 'store'], 'garbage collection'],
    [['prune', 'store', 'vm/100', '--keep-last', '1'], 'prune'],
    [['forget', 'store', SNAPSHOT], 'forget'],
    [['protect', 'store', SNAPSHOT], 'protect'],
    [['namespace', 'create', 'store', 'a'], 'creating a namespace'],
    [['datastore', 'reindex', 'store'], 'reindex'],
    [['pull', '-', 'copy', 'store'], 'sync into it'],
  ] as const) {
    const run = await ferry(w.home, [...args]);
    assert.equal(run.code, 11, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, refused, args.join(' '));
    assert.match(run.stderr, new RegExp(`; ${what} refused`), args.join(' '));
  }
  // What only reads goes on.
  assert.equal((await ferryJson<unknown[]>(w.home, ['snapshots', 'store'])).length, 4);
  assert.equal((await ferryJson<unknown[]>(w.home, ['groups', 'store'])).length, 2);
  const dry = await ferryJson<{ snapshots: { mark: string }[] }>(w.home, [
    'prune',
    'store',
    'vm/100',
    '--keep-last',
    '1',
    '--dry-run',
  ]);
  assert.deepEqual(dry.snapshots.map((o) => o.mark).sort(), ['keep', 'remove']);
  await ferryJson(w.home, ['restore', 'store', SNAPSHOT, 'drive-scsi0.img', join(w.dir, 'restored.img')]);
  assert.equal((await stat(join(w.dir, 'restored.img'))).size, 4 * 1024 * 1024 - 12345);
  const verify = await ferry(w.home, ['verify', 'store']);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /verified 4 snapshot\(s\).*: ok/);
  assert.match(verify.stdout, /nothing recorded: datastore store is in read-only maintenance mode/);
  const pulled = await ferry(w.home, ['pull', '-', 'store', 'copy', '--output-format', 'json']);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.equal((await ferryJson<unknown[]>(w.home, ['snapshots', 'copy'])).length, 4);
  // Neither the refusals nor the reads (verify included: no verify state written) changed a byte of it.
  assert.deepEqual(await fingerprint(w.storePath), untouched);

  // Offline: the settings still show and change; nothing opens the datastore.
  await ferryJson(w.home, ['datastore', 'update', 'store', '--maintenance-mode', 'offline']);
  assert.match((await ferry(w.home, ['datastore', 'list'])).stdout, /\boffline\b/);
  for (const args of [
    ['snapshots', 'store'],
    ['verify', 'store'],
    ['restore', 'store', SNAPSHOT, 'drive-scsi0.img', join(w.dir, 'again.img')],
    ['pull', '-', 'store', 'copy'],
  ]) {
    const run = await ferry(w.home, args);
    assert.equal(run.code, 11, `${args.join(' ')}: ${run.stderr}`);
    assert.match(
      run.stderr,
      /datastore store is in offline maintenance mode: it can be neither read nor written/,
    );
  }
  assert.deepEqual(await fingerprint(w.storePath), untouched);

  // Ended: writes go in again.
  await ferryJson(w.home, ['datastore', 'update', 'store', '--delete', 'maintenance-mode']);
  assert.equal(
    (await readDatastoreConfig(w.home)).find((e) => e.name === 'store')?.['maintenance-mode'],
    undefined,
  );
  await ferryJson(w.home, ['backup', 'store', 'vm/100', `drive-scsi0.img:${image}`]);
  assert.equal((await ferryJson<unknown[]>(w.home, ['snapshots', 'store'])).length, 5);
});

test('the server: its datastore list shows the mode; read-only refuses a backup and lets a reader in, offline refuses the reader too (409, FERRY_ERR_MAINTENANCE)', async (t) => {
  const w = await startServerWorld(t);
  await fillDatastore(w.store('store1'), makePool(t), w.dir, { groups: ['vm/100'], snapshots: 1, blocks: 1 });
  const client = w.client(await w.token('admin@pbs!t', [['/', 'admin']]));
  const setMode = async (mode: string | undefined) => {
    const entries = await readDatastoreConfig(w.home);
    await writeDatastoreConfig(
      w.home,
      entries.map(({ 'maintenance-mode': _, ...e }) =>
        mode === undefined ? e : { ...e, 'maintenance-mode': mode },
      ),
    );
  };
  const refusedWith = (pattern: RegExp) => (err: unknown) => {
    assert.ok(err instanceof FerryError, String(err));
    assert.equal(err.code, 'FERRY_ERR_MAINTENANCE');
    assert.match(err.message, pattern);
    return true;
  };
  const root = parseNamespace('');
  const snapshot = makeSnapshot(makeGroup('vm', '200'), BASE_TIME);

  await setMode('type=read-only,message=migrating');
  assert.deepEqual(
    (await client.listDatastores()).map((d) => [d.store, d.maintenance]),
    [['store1', 'type=read-only,message=migrating']],
  );
  await assert.rejects(
    client.openWriter('store1', root, snapshot),
    refusedWith(/datastore store1 is in read-only maintenance mode \(migrating\): only reading is allowed/),
  );
  await assert.rejects(client.createNamespace('store1', parseNamespace('a')), refusedWith(/read-only/));
  assert.equal((await client.listSnapshots('store1', root)).length, 1);
  const reader = await client.openReader('store1', root, makeGroup('vm', '100'));
  await reader.close();

  await setMode('offline');
  await assert.rejects(client.listSnapshots('store1', root), refusedWith(/offline maintenance mode/));
  await assert.rejects(client.openReader('store1', root, makeGroup('vm', '100')), refusedWith(/offline/));

  await setMode(undefined);
  const writer = await client.openWriter('store1', root, snapshot);
  await writer.abort();
});

test('the scheduler holds back a run its datastore would refuse, says so once, and starts it when the maintenance ends', async (t) => {
  const w = await world(t);
  await ferryJson(w.home, ['datastore', 'update', 'store', '--gc-schedule', 'daily']);
  const twoDaysAgo = Math.floor(Date.now() / 1000) - 2 * 86400;
  await recordJobRun(w.home, 'gc', 'store', {
    task: 'UPID:old',
    started: twoDaysAgo,
    ended: twoDaysAgo,
    state: 'ok',
  });
  await ferryJson(w.home, [
    'datastore',
    'update',
    'store',
    '--maintenance-mode',
    'type=read-only,message=swap',
  ]);
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    destination: { write: (line: string) => lines.push(JSON.parse(line).msg as string) },
  });
  const launcher = new JobLauncher({ home: w.home, log, cli: { command: FERRY_BIN, args: [] } });
  const scheduler = new Scheduler({ home: w.home, clock: SYSTEM_CLOCK, log, launcher, timeZone: 'UTC' });
  const gc = { kind: 'gc' as const, id: 'store', args: [] };
  await scheduler.tick();
  await scheduler.tick();
  assert.equal(launcher.isRunning(gc), false);
  assert.deepEqual(
    lines.filter((l) => l.includes('not starting')),
    [
      'scheduler: not starting garbage collection of store yet: datastore store is in read-only maintenance mode (swap): only reading is allowed',
    ],
  );
  await ferryJson(w.home, ['datastore', 'update', 'store', '--delete', 'maintenance-mode']);
  await scheduler.tick();
  assert.equal(launcher.isRunning(gc), true, 'the held-back run starts once the maintenance ends');
  await launcher.stopAll();
});
