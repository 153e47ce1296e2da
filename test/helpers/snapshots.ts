/**
 * Snapshot fixtures written straight through the store layer (SnapshotWriter, ChunkStore.insert): seeded chunks in a
 * dynamic index plus a small blob, so a test knows every digest and every plain byte it later expects over the API.
 */
import { dynamicEntry, encodeBlob, encodeDynamicIndex } from '../../src/format/index.js';
import {
  type ArchiveName,
  type Digest,
  digestOf,
  digestToBytes,
  parseAuthId,
  parseGroup,
  parseNamespace,
  type SnapshotRef,
} from '../../src/model/index.js';
import { type Datastore, SnapshotWriter } from '../../src/store/index.js';
import { seededBytes } from './random.js';

export const INDEX_NAME = 'disk.didx' as ArchiveName;
export const BLOB_NAME = 'vm.conf.blob' as ArchiveName;

export interface SnapshotFixture {
  snapshot: SnapshotRef;
  digests: Digest[];
  /** Plain bytes of each chunk. */
  plain: Map<Digest, Buffer>;
}

/** Chunk `i` of a fixture with `seed`: the same bytes in every test run. */
export function fixtureChunk(seed: number, i: number, size: number): Buffer {
  return seededBytes(seed * 100_003 + i, size);
}

export async function writeTestSnapshot(
  ds: Datastore,
  options: {
    ns?: string;
    group: string;
    time: number;
    chunks: number;
    chunkSize?: number;
    seed?: number;
    owner?: string;
  },
): Promise<SnapshotFixture> {
  const ns = parseNamespace(options.ns ?? '');
  const snapshot: SnapshotRef = { group: parseGroup(options.group), time: options.time };
  const size = options.chunkSize ?? 4096;
  const seed = options.seed ?? 1;
  if (ns !== '' && !(await ds.namespaceExists(ns))) await ds.ensureNamespace(ns);
  const writer = await SnapshotWriter.begin(ds, ns, snapshot, {
    owner: parseAuthId(options.owner ?? 'root@pam'),
    mode: 'sync',
  });
  const digests: Digest[] = [];
  const plain = new Map<Digest, Buffer>();
  const entries: Buffer[] = [];
  let end = 0;
  for (let i = 0; i < options.chunks; i++) {
    const data = fixtureChunk(seed, i, size);
    const digest = digestOf(data);
    await ds.chunks.insert(digest, encodeBlob(data), data.length);
    digests.push(digest);
    plain.set(digest, data);
    end += data.length;
    entries.push(dynamicEntry(end, digestToBytes(digest)));
  }
  await writer.writeIndex(
    INDEX_NAME,
    encodeDynamicIndex({ ctime: options.time, entries: Buffer.concat(entries) }),
  );
  await writer.writeBlob(BLOB_NAME, encodeBlob(Buffer.from(`cores: ${seed}\n`)));
  await writer.commit();
  return { snapshot, digests, plain };
}
