/**
 * Chunk worker: reads, hashes, compresses, verifies and stores chunks for ChunkPool (backup, verify, and the
 * server's uploads). One ChunkStore (with its own lmdb handle) per datastore path per thread. Returns plain results;
 * errors go back serialised.
 */
import { Piscina } from 'piscina';
import { serializeError } from '../src/errors/index.js';
import {
  BLOB_HEADER_SIZE,
  type BlobParts,
  chunkProof,
  encodeBlobInPlace,
  encodeBlobParts,
  verifyChunk,
} from '../src/format/index.js';
import { ChunkBuffers, readAt } from '../src/io/index.js';
import { type Digest, digestOf, SYSTEM_CLOCK } from '../src/model/index.js';
import {
  type ChunkResult,
  ChunkStore,
  type ChunkTask,
  Layout,
  RANGE_BUFFERS_PER_THREAD,
  type StoreResult,
  type VerifiedInsert,
} from '../src/store/index.js';

const stores = new Map<string, ChunkStore>();

function storeFor(path: string): ChunkStore {
  let store = stores.get(path);
  if (store === undefined) {
    store = ChunkStore.open(new Layout(path), SYSTEM_CLOCK);
    stores.set(path, store);
  }
  return store;
}

// Disk images are full of zero blocks: recognise them with a memcmp instead of hashing and compressing each one.
const ZEROS = Buffer.alloc(4 * 1024 * 1024);
const zeroChunks = new Map<number, { digest: Digest; blob: BlobParts }>();

function zeroChunk(data: Buffer): { digest: Digest; blob: BlobParts } | undefined {
  if (data.length > ZEROS.length || data.length === 0 || !data.equals(ZEROS.subarray(0, data.length)))
    return undefined;
  let known = zeroChunks.get(data.length);
  if (known === undefined) {
    const plain = ZEROS.subarray(0, data.length);
    const encoded = encodeBlobParts(plain);
    known = {
      digest: digestOf(plain),
      blob: { parts: encoded.parts.map((p) => Buffer.from(p)), length: encoded.length },
    };
    zeroChunks.set(data.length, known);
  }
  return known;
}

// Read buffers for store-range tasks, reused so each chunk costs no allocation and no fresh-page faults. A task holds
// one from its read until its chunk's bytes are written (not through the fsyncs, rename and index entry that
// follow), so RANGE_BUFFERS_PER_THREAD (16) serve the ChunkPool.tasksPerThread (24 by default) tasks a thread runs
// at once; a task that finds none free waits for one.
const rangeBuffers = new ChunkBuffers(RANGE_BUFFERS_PER_THREAD);

/**
 * Hashes and stores one chunk. With `framed` (the data with BLOB_HEADER_SIZE bytes of room before it, in chunk
 * memory), the blob is made in that memory and written from it; otherwise it is encoded aside. `onWritten`: as in
 * ChunkStore.insert (`data` and `framed` are no longer read; not called when nothing was written).
 */
async function storeData(
  store: ChunkStore,
  data: Buffer,
  framed?: Buffer,
  onWritten?: () => void,
): Promise<StoreResult> {
  const zero = zeroChunk(data);
  const digest = zero?.digest ?? digestOf(data);
  // Decide synchronously whether to compress, so zstd reads the block while it is still in this core's cache
  // (an await here would let other tasks' blocks evict it).
  if (store.has(digest)) {
    const existing = await store.touch(digest);
    if (existing)
      return { ok: true, digest, isNew: false, encodedSize: existing.encodedSize, plainSize: data.length };
  }
  const plainSize = data.length;
  const blob = zero?.blob ?? (framed !== undefined ? encodeBlobInPlace(framed) : encodeBlobParts(data));
  const r = await store.insert(digest, blob, plainSize, onWritten === undefined ? {} : { onWritten });
  return { ok: true, digest, isNew: r.isNew, encodedSize: r.encodedSize, plainSize };
}

/** The chunk's proof for `nonce`, read into reused memory; undefined when it is missing, unreadable or damaged. */
async function prove(store: ChunkStore, digest: Digest, nonce: Uint8Array): Promise<Uint8Array | undefined> {
  let blob: Buffer;
  try {
    blob = await store.read(digest, rangeBuffers);
  } catch {
    return undefined;
  }
  try {
    return chunkProof(nonce, blob);
  } catch {
    return undefined;
  } finally {
    rangeBuffers.give(blob);
  }
}

/**
 * Returns the result with the task's buffer moved back to the caller for reuse: when the view covers its whole
 * ArrayBuffer, or when the caller lent that buffer whole (`lent`).
 */
function giveBack<R extends StoreResult | VerifiedInsert>(
  result: R,
  data: Uint8Array,
  lent = false,
): ChunkResult {
  if (data.byteOffset !== 0 || (!lent && data.byteLength !== data.buffer.byteLength)) return result;
  const value = { ...result, data };
  const movable = {
    get [Piscina.transferableSymbol]() {
      return data.buffer;
    },
    get [Piscina.valueSymbol]() {
      return value;
    },
  };
  return Piscina.move(movable as unknown as Parameters<typeof Piscina.move>[0]) as unknown as ChunkResult;
}

export default async function run(task: ChunkTask): Promise<ChunkResult> {
  try {
    const store = storeFor(task.storePath);
    if (task.op === 'store') {
      const result = await storeData(
        store,
        Buffer.from(task.data.buffer, task.data.byteOffset, task.data.byteLength),
      );
      return giveBack(result, task.data);
    }
    if (task.op === 'store-range') {
      const framed = await rangeBuffers.take(BLOB_HEADER_SIZE + task.length);
      let given = false;
      const releaseRange = () => {
        if (given) return;
        given = true;
        rangeBuffers.give(framed); // nothing reads it any more: the next task may read its range into it
      };
      try {
        const data = framed.subarray(BLOB_HEADER_SIZE);
        const { bytesRead } = await readAt(task.fd, data, 0, task.length, task.offset).catch(
          (err: unknown) => {
            if (err instanceof Error) err.message = `${task.file}: ${err.message}`;
            throw err;
          },
        );
        if (bytesRead !== task.length)
          throw new Error(`${task.file} shrank while it was read (short read at ${task.offset})`);
        return await storeData(store, data, framed, releaseRange);
      } finally {
        releaseRange(); // stored, found stored, or failed
      }
    }
    if (task.op === 'insert') {
      const blob = Buffer.from(task.blob.buffer, task.blob.byteOffset, task.blob.byteLength);
      const check = verifyChunk(blob, task.digest, { maxSize: task.maxSize });
      const stored = await store.insert(task.digest, blob, check.plainSize);
      const result: VerifiedInsert = {
        ok: true,
        isNew: stored.isNew,
        encodedSize: stored.encodedSize,
        plainSize: check.plainSize,
      };
      return task.lent === true ? giveBack(result, task.blob, true) : result;
    }
    if (task.op === 'prove') return { ok: true, proof: await prove(store, task.digest, task.nonce) };
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
