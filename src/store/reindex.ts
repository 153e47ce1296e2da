import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BLOB_HEADER_SIZE, blobKind, isEncryptedKind, zstdFrameContentSize } from '../format/index.js';
import { acquireLock, readdirOrEmpty } from '../io/index.js';
import type { Logger } from '../log/index.js';
import { type Digest, isDigest } from '../model/index.js';
import { type ChunkEntry, UNKNOWN_SIZE } from './chunk-index.js';
import type { Datastore } from './datastore.js';

export interface ReindexReport {
  chunks: number;
  bytes: number;
  /** Files in `.chunks/` that are not chunks (bad magic, truncated): left alone, not indexed. */
  skipped: string[];
}

/**
 * Rebuilds the lmdb index from `.chunks/`, shard by shard, holding each shard lock exclusively (so inserts into
 * that shard wait and GC cannot run). Sizes come from the file and the blob header (zstd frames declare their
 * content size); lastUsed is the file's mtime.
 */
export async function reindexDatastore(
  ds: Datastore,
  options: { log: Logger; signal?: AbortSignal },
): Promise<ReindexReport> {
  const gc = await acquireLock(ds.layout.gcLockPath(), { what: 'garbage collection (reindex needs it)' });
  const report: ReindexReport = { chunks: 0, bytes: 0, skipped: [] };
  try {
    const prefixes = (await readdirOrEmpty(ds.layout.chunksDir))
      .filter((p) => /^[0-9a-f]{4}$/.test(p))
      .sort();
    for (let shard = 0; shard < 256; shard++) {
      options.signal?.throwIfAborted();
      const hex = shard.toString(16).padStart(2, '0');
      const lock = await acquireLock(ds.layout.chunkShardLockPath(shard), {
        waitMs: 10 * 60 * 1000,
        what: `chunk shard ${hex}`,
      });
      try {
        const onDisk = new Set<Digest>();
        for (const prefix of prefixes.filter((p) => p.startsWith(hex))) {
          for (const name of await readdir(join(ds.layout.chunksDir, prefix)).catch(() => [] as string[])) {
            if (!isDigest(name) || !name.startsWith(prefix)) continue;
            const info = await readChunkInfo(join(ds.layout.chunksDir, prefix, name));
            if (info === undefined) {
              report.skipped.push(`${prefix}/${name}`);
              continue;
            }
            onDisk.add(name);
            await ds.chunks.index.put(name, info);
            report.chunks++;
            report.bytes += info.encodedSize;
          }
        }
        for (const [digest] of ds.chunks.index.entries(shard)) {
          if (!onDisk.has(digest)) await ds.chunks.index.remove(digest);
        }
      } finally {
        await lock.release();
      }
    }
    await ds.chunks.index.flushed();
    options.log.info(
      { chunks: report.chunks, bytes: report.bytes, skipped: report.skipped.length },
      'reindex done',
    );
    return report;
  } finally {
    await gc.release();
  }
}

async function readChunkInfo(path: string): Promise<ChunkEntry | undefined> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    const head = Buffer.alloc(Math.min(st.size, 64));
    await fh.read(head, 0, head.length, 0);
    let kind: ReturnType<typeof blobKind>;
    try {
      kind = blobKind(head);
    } catch {
      return undefined;
    }
    let plainSize = UNKNOWN_SIZE;
    if (kind === 'uncompressed') plainSize = st.size - BLOB_HEADER_SIZE;
    else if (!isEncryptedKind(kind))
      plainSize = zstdFrameContentSize(head.subarray(BLOB_HEADER_SIZE)) ?? UNKNOWN_SIZE;
    return { encodedSize: st.size, plainSize, lastUsed: st.mtimeMs, insertedBy: 0 };
  } finally {
    await fh.close();
  }
}
