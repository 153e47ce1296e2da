/**
 * Chunk worker: hashes, compresses, verifies and stores chunks for ChunkPool. One ChunkStore (with its own lmdb
 * handle) per datastore path per thread. Returns plain results; errors go back serialised.
 */
import { serializeError } from '../src/errors/index.js';
import { encodeBlob, verifyChunk } from '../src/format/index.js';
import { digestOf, SYSTEM_CLOCK } from '../src/model/index.js';
import { type ChunkResult, ChunkStore, type ChunkTask, Layout } from '../src/store/index.js';

const stores = new Map<string, ChunkStore>();

function storeFor(path: string): ChunkStore {
  let store = stores.get(path);
  if (store === undefined) {
    store = ChunkStore.open(new Layout(path), SYSTEM_CLOCK);
    stores.set(path, store);
  }
  return store;
}

export default async function run(task: ChunkTask): Promise<ChunkResult> {
  try {
    const store = storeFor(task.storePath);
    if (task.op === 'store') {
      const data = Buffer.from(task.data.buffer, task.data.byteOffset, task.data.byteLength);
      const digest = digestOf(data);
      const existing = await store.touch(digest);
      if (existing)
        return { ok: true, digest, isNew: false, encodedSize: existing.encodedSize, plainSize: data.length };
      const blob = encodeBlob(data);
      const r = await store.insert(digest, blob, data.length);
      return { ok: true, digest, isNew: r.isNew, encodedSize: r.encodedSize, plainSize: data.length };
    }
    const blob = await store.read(task.digest);
    const check = verifyChunk(blob, task.digest, {
      expectedSize: task.expectedSize,
      encrypted: task.encrypted,
    });
    return { ok: true, encodedSize: blob.length, plainSize: check.plainSize };
  } catch (err) {
    return { ok: false, error: serializeError(err) };
  }
}
