/**
 * A running `ferry serve` lets go of a datastore set to offline maintenance (or removed from datastore.cfg) once the
 * last request or session using it has ended: no file under it stays open or mapped in the server's process, in
 * its main thread or its chunk threads, so the operator can unmount the disk without stopping the server. Ending
 * the maintenance opens it again.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readDatastoreConfig, writeDatastoreConfig } from '../../src/config/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { createLogger } from '../../src/log/index.js';
import { parseGroup, parseNamespace, parseStoreName, type SnapshotRef } from '../../src/model/index.js';
import type { FerryClient } from '../../src/remote/index.js';
import { Datastore } from '../../src/store/index.js';
import { startServerWorld } from '../helpers/server.js';
import { BLOB_NAME, INDEX_NAME } from '../helpers/snapshots.js';
import { makeUpload } from '../helpers/uploads.js';

const root = parseNamespace('');
const T0 = Date.UTC(2026, 0, 1) / 1000;
const snap = (time: number): SnapshotRef => ({ group: parseGroup('vm/100'), time });

/** Files under `dir` this process has open (file descriptors) or mapped (lmdb maps its data file). */
async function heldUnder(dir: string): Promise<string[]> {
  const held = new Set<string>();
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(`${dir}/`)) held.add(target);
  }
  for (const line of (await readFile('/proc/self/maps', 'utf8')).split('\n')) {
    const path = line.slice(line.indexOf('/'));
    if (line.includes('/') && path.startsWith(`${dir}/`)) held.add(path);
  }
  return [...held].sort();
}

async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

async function push(client: FerryClient, store: string, seed: number, time: number): Promise<void> {
  const up = makeUpload({ seed, count: 4 });
  const writer = await client.openWriter(store, root, snap(time));
  await writer.uploadChunks(up.chunks);
  await writer.uploadFile(INDEX_NAME, up.index);
  await writer.uploadFile(BLOB_NAME, up.blob);
  await writer.finish(up.manifest(snap(time)));
}

/**
 * Datastore `moving`, configured for the server and opened only by it (the world keeps its own handle on store1,
 * which would count in heldUnder); returns its directory.
 */
async function addServerOnlyStore(home: string, worldDir: string): Promise<string> {
  const dir = join(worldDir, 'moving');
  await (await Datastore.create(dir)).close();
  await writeDatastoreConfig(home, [
    ...(await readDatastoreConfig(home)),
    { name: parseStoreName('moving'), path: dir },
  ]);
  return dir;
}

async function setMode(home: string, store: string, mode: string | undefined): Promise<void> {
  const entries = await readDatastoreConfig(home);
  await writeDatastoreConfig(
    home,
    entries.map(({ 'maintenance-mode': _, ...e }) =>
      e.name !== store || mode === undefined ? e : { ...e, 'maintenance-mode': mode },
    ),
  );
}

test('offline maintenance: the server closes the datastore (main thread and chunk threads) once its last user is gone, and opens it again after', {
  skip: !existsSync('/proc/self/maps') && 'needs /proc',
}, async (t) => {
  const lines: { msg: string; store?: string }[] = [];
  const log = createLogger({
    level: 'info',
    destination: { write: (l: string) => lines.push(JSON.parse(l)) },
  });
  const w = await startServerWorld(t, { log });
  const dir = await addServerOnlyStore(w.home, w.dir);
  const client = w.client(await w.token('admin@pbs!t', [['/', 'admin']]));
  assert.deepEqual(await heldUnder(dir), []);

  // A push (chunk threads open it) and a listing (the main thread opens it).
  await push(client, 'moving', 1, T0);
  await push(client, 'store1', 2, T0); // the other datastore shares the chunk threads
  assert.equal((await client.listSnapshots('moving', root)).length, 1);
  const before = await heldUnder(dir);
  assert.ok(
    before.some((p) => p.endsWith('/data.mdb')),
    `the lmdb index is open: ${before.join(', ')}`,
  );

  // A reader session holds it past the switch to offline; new requests are refused at once.
  const reader = await client.openReader('moving', root, parseGroup('vm/100'));
  await setMode(w.home, 'moving', 'type=offline,message=new disk');
  await assert.rejects(client.listSnapshots('moving', root), (err: unknown) => {
    assert.ok(isFerryError(err) && err.code === 'FERRY_ERR_MAINTENANCE', String(err));
    assert.match(err.message, /datastore moving is in offline maintenance mode \(new disk\)/);
    return true;
  });
  await sleep(1500); // more than a sweep: the session still holds it
  assert.ok((await heldUnder(dir)).length > 0, 'still open while a session uses it');
  const download = await reader.download(T0, INDEX_NAME);
  assert.ok(download.length > 0, 'the running session goes on working');

  // The session ends: everything under the datastore is let go, and the log says so.
  await reader.close();
  await until('nothing under the datastore is open', async () => (await heldUnder(dir)).length === 0);
  // The line comes once the old chunk threads' pool has finished closing, a moment after their files are let go.
  await until('the log says the datastore closed', async () =>
    lines.some((l) => l.msg === 'datastore moving closed: maintenance mode offline'),
  ).catch(() => assert.fail(lines.map((l) => l.msg).join('\n')));
  // The other datastore is untouched: it takes pushes through the server's new chunk threads.
  await push(client, 'store1', 3, T0 + 60);
  assert.equal((await client.listSnapshots('store1', root)).length, 2);
  assert.deepEqual(await heldUnder(dir), []);

  // The maintenance ends: the datastore is opened again on the next request, with its contents.
  await setMode(w.home, 'moving', undefined);
  await push(client, 'moving', 4, T0 + 60);
  assert.equal((await client.listSnapshots('moving', root)).length, 2);

  // Removed from datastore.cfg: let go as well.
  await writeDatastoreConfig(
    w.home,
    (await readDatastoreConfig(w.home)).filter((e) => e.name !== 'moving'),
  );
  await until('the removed datastore is let go', async () => (await heldUnder(dir)).length === 0);
  await until('the log says so', async () =>
    lines.some((l) => l.msg === 'datastore moving closed: removed from datastore.cfg'),
  );
});

test('offline maintenance: a session its client abandoned holds the datastore only until its idle timeout', {
  skip: !existsSync('/proc/self/maps') && 'needs /proc',
}, async (t) => {
  const w = await startServerWorld(t, { limits: { idleMs: 400 } });
  const dir = await addServerOnlyStore(w.home, w.dir);
  const client = w.client(await w.token('admin@pbs!t', [['/', 'admin']]));
  await push(client, 'moving', 1, T0);
  // A writer the client never finishes nor aborts (it crashed): its unfinished snapshot holds the group lock.
  const writer = await client.openWriter('moving', root, snap(T0 + 60));
  await writer.uploadChunks(makeUpload({ seed: 2, count: 2 }).chunks);
  await setMode(w.home, 'moving', 'offline');
  await until(
    'the idle writer expired and the datastore was let go',
    async () => (await heldUnder(dir)).length === 0,
  );
  // What the expired writer had begun is gone; the finished snapshot is there when the datastore comes back.
  await setMode(w.home, 'moving', undefined);
  assert.deepEqual(
    (await client.listSnapshots('moving', root)).map((s) => [s.snapshot.time, s.inProgress]),
    [[T0, false]],
  );
});
