import { statfs } from 'node:fs/promises';
import type { DatastoreStatus } from '../model/index.js';
import { UNKNOWN_SIZE } from './chunk-index.js';
import type { Datastore } from './datastore.js';

/**
 * Counts every namespace, group and finished snapshot (reading each manifest once) and sums the chunk index. It reads
 * only; on a large datastore it takes as long as listing every snapshot does.
 */
export async function datastoreStatus(ds: Datastore): Promise<DatastoreStatus> {
  const fs = await statfs(ds.path);
  const counts: DatastoreStatus['counts'] = {};
  let logicalBytes = 0;
  const namespaces = await ds.listNamespaces();
  for (const ns of namespaces) {
    for (const info of await ds.listGroups(ns)) {
      const snapshots = (await ds.listSnapshots(ns, info.group)).filter((s) => s.finished);
      if (snapshots.length === 0) continue;
      const count = counts[info.group.type] ?? { groups: 0, snapshots: 0 };
      count.groups++;
      count.snapshots += snapshots.length;
      counts[info.group.type] = count;
      for (const s of snapshots) logicalBytes += s.size ?? 0;
    }
  }
  let chunks = 0;
  let chunkBytes = 0;
  let plainChunkBytes = 0;
  for (const [, entry] of ds.chunks.index.entries()) {
    chunks++;
    chunkBytes += entry.encodedSize;
    plainChunkBytes += entry.plainSize === UNKNOWN_SIZE ? entry.encodedSize : entry.plainSize;
  }
  return {
    total: fs.blocks * fs.bsize,
    used: (fs.blocks - fs.bfree) * fs.bsize,
    avail: fs.bavail * fs.bsize,
    namespaces: namespaces.length,
    counts,
    logicalBytes,
    chunks,
    chunkBytes,
    plainChunkBytes,
    dedupFactor: chunkBytes > 0 ? logicalBytes / chunkBytes : undefined,
  };
}
