/**
 * Snapshots built in memory for writer-session tests: chunk blobs, a dynamic index over them, a config blob and the
 * manifest that lists both, as a push client would send them.
 */
import {
  type CryptMode,
  dynamicEntry,
  encodeBlob,
  encodeDynamicIndex,
  encodeManifestBlob,
  type ManifestFile,
  parseDynamicIndex,
  sha256,
} from '../../src/format/index.js';
import {
  type ArchiveName,
  type Digest,
  digestOf,
  digestToBytes,
  type SnapshotRef,
} from '../../src/model/index.js';
import type { ChunkUpload } from '../../src/remote/index.js';
import { BLOB_NAME, fixtureChunk, INDEX_NAME } from './snapshots.js';

export interface UploadFixture {
  chunks: ChunkUpload[];
  /** Plain bytes of each chunk, in index order. */
  plain: Buffer[];
  index: Buffer;
  blob: Buffer;
  manifest(
    snapshot: SnapshotRef,
    options?: { cryptMode?: CryptMode; extraFile?: string; csum?: string },
  ): Buffer;
}

/** An index over `digests` (with their plain sizes). */
export function dynamicIndexOf(entries: readonly { digest: Digest; size: number }[], ctime = 0): Buffer {
  let end = 0;
  const parts = entries.map((e) => {
    end += e.size;
    return dynamicEntry(end, digestToBytes(e.digest));
  });
  return encodeDynamicIndex({ ctime, entries: Buffer.concat(parts) });
}

/**
 * `count` seeded chunks of `size` bytes (chunk i of seed s is the same as in writeTestSnapshot), plus `reuse`:
 * chunks (digest and plain size) the index also references without uploading them.
 */
export function makeUpload(options: {
  seed: number;
  count: number;
  size?: number;
  reuse?: readonly { digest: Digest; size: number }[];
}): UploadFixture {
  const size = options.size ?? 4096;
  const plain: Buffer[] = [];
  const chunks: ChunkUpload[] = [];
  for (let i = 0; i < options.count; i++) {
    const data = fixtureChunk(options.seed, i, size);
    plain.push(data);
    chunks.push({ digest: digestOf(data), blob: encodeBlob(data) });
  }
  const entries = [...(options.reuse ?? []), ...chunks.map((c) => ({ digest: c.digest, size }))];
  const index = dynamicIndexOf(entries);
  const blob = encodeBlob(Buffer.from(`cores: ${options.seed}\n`));
  return {
    chunks,
    plain,
    index,
    blob,
    manifest: (snapshot, m = {}) => {
      const parsed = parseDynamicIndex(index);
      const blobFile: ManifestFile = {
        filename: BLOB_NAME,
        cryptMode: 'none',
        size: blob.length,
        csum: sha256(blob).toString('hex'),
      };
      const files: ManifestFile[] = [
        {
          filename: INDEX_NAME,
          cryptMode: m.cryptMode ?? 'none',
          size: parsed.size,
          csum: m.csum ?? parsed.csum().toString('hex'),
        },
        blobFile,
      ];
      if (m.extraFile !== undefined) files.push({ ...blobFile, filename: m.extraFile as ArchiveName });
      return encodeManifestBlob({
        backupType: snapshot.group.type,
        backupId: snapshot.group.id,
        backupTime: snapshot.time,
        files,
        unprotected: {},
        signature: null,
      });
    },
  };
}
