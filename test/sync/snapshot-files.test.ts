import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ArchiveName, MANIFEST_NAME, parseGroup, ROOT_NAMESPACE } from '../../src/model/index.js';
import { LocalSource } from '../../src/sync/index.js';
import { SnapshotFiles } from '../../src/sync/snapshot-files.js';
import type { SourceGroupReader } from '../../src/sync/sync-types.js';
import { fillDatastore } from '../helpers/fixtures.js';
import { localSyncWorld } from '../helpers/local-sync.js';

/** The real reader of a local datastore, with every download it is asked for written down in order. */
function recording(reader: SourceGroupReader, calls: string[]): SourceGroupReader {
  return new Proxy(reader, {
    get(target, key, receiver) {
      if (key === 'readManifest')
        return (time: number) => {
          calls.push(MANIFEST_NAME);
          return target.readManifest(time);
        };
      if (key === 'readArchive')
        return (time: number, name: ArchiveName) => {
          calls.push(name);
          return target.readArchive(time, name);
        };
      return Reflect.get(target, key, receiver);
    },
  });
}

test("a snapshot's archives the listing names are asked for with its manifest, not a round trip after it", async (t) => {
  const w = await localSyncWorld(t);
  await fillDatastore(w.source, w.pool, w.dir, { groups: ['vm/100'], snapshots: 1, blocks: 2 });
  const source = new LocalSource(w.source, 'source');
  const group = parseGroup('vm/100');
  const [listing] = await source.listSnapshots(ROOT_NAMESPACE, group);
  assert.ok(listing);
  assert.deepEqual([...listing.archives].sort(), ['drive-scsi0.img.fidx', 'qemu.conf.blob']);

  const calls: string[] = [];
  const reader = recording(await source.openGroup(ROOT_NAMESPACE, group), calls);
  const pending = SnapshotFiles.fetch(reader, listing.time, listing.archives);
  // Nothing awaited yet: all three downloads are already under way.
  assert.deepEqual([...calls].sort(), ['drive-scsi0.img.fidx', MANIFEST_NAME, 'qemu.conf.blob'].sort());
  const files = await pending;
  const index = await files.archive('drive-scsi0.img.fidx' as ArchiveName);
  assert.deepEqual(
    index,
    await w.source.readArchive(
      ROOT_NAMESPACE,
      { group, time: listing.time },
      'drive-scsi0.img.fidx' as ArchiveName,
    ),
  );
  assert.equal(calls.length, 3, 'the early download is the one handed out, not a second one');

  // A name the listing gives but the manifest does not list is never handed out; one it left out is still fetched.
  const later: string[] = [];
  const other = recording(await source.openGroup(ROOT_NAMESPACE, group), later);
  const partial = await SnapshotFiles.fetch(other, listing.time, [
    'qemu.conf.blob' as ArchiveName,
    'stray.img.fidx' as ArchiveName,
  ]);
  assert.ok(
    later.includes('drive-scsi0.img.fidx'),
    'what the manifest lists is fetched once the manifest is here',
  );
  const conf = await partial.archive('qemu.conf.blob' as ArchiveName);
  assert.ok(conf.length > 0);
  assert.equal(later.filter((c) => c === 'qemu.conf.blob').length, 1);
});
