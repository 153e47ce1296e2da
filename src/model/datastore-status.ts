/** What a datastore holds and what it costs on disk: PBS's datastore status, with the counts behind it. */
export interface DatastoreStatus {
  /** The file system the datastore lives on, in bytes (PBS's `total`, `used`, `avail`). */
  total: number;
  used: number;
  avail: number;
  namespaces: number;
  /** Finished snapshots and their groups, per backup type (PBS's `counts`). */
  counts: Record<string, { groups: number; snapshots: number }>;
  /** What the finished snapshots hold, as their manifests give it: images, archives and blobs at full size. */
  logicalBytes: number;
  /** The chunk store, from the chunk index: chunk files and their bytes on disk. */
  chunks: number;
  chunkBytes: number;
  /** The chunks' content before compression (encrypted chunks, whose size is unknown, count as stored). */
  plainChunkBytes: number;
  /** logicalBytes / chunkBytes (PBS's deduplication factor); undefined for an empty chunk store. */
  dedupFactor: number | undefined;
}
