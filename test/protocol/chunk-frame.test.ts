import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFerryError } from '../../src/errors/index.js';
import { ChunkBuffers } from '../../src/io/index.js';
import { type Digest, digestOf } from '../../src/model/index.js';
import {
  type ChunkFrame,
  ChunkFrameSink,
  encodeFrameHeader,
  encodeFrames,
  readChunkFrames,
} from '../../src/protocol/index.js';
import { seededBytes } from '../helpers/random.js';

const MIB = 1024 * 1024;
const LIMITS = { maxFrames: 100, maxBlob: 16 * MIB + 64, maxTotal: 256 * MIB };

/** The frames' bytes as a stream of odd-sized pieces, so frames and headers straddle pieces. */
async function* pieces(blobs: Buffer[], size = 7919): AsyncGenerator<Uint8Array> {
  const body = Buffer.concat(encodeFrames(blobs.map((blob) => ({ digest: digestOf(blob), blob }))));
  for (let at = 0; at < body.length; at += size) yield body.subarray(at, at + size);
}

test('blobs handed back are reused for later frames, and every frame arrives intact', async () => {
  const sizes = [100, 1 * MIB, 3 * MIB, 4 * MIB + 12, 2 * MIB + 5, 6 * MIB, 3 * MIB];
  const blobs = sizes.map((n, i) => seededBytes(i + 1, n));
  const buffers = new ChunkBuffers();
  const memory: ArrayBufferLike[] = [];
  let i = 0;
  for await (const frame of readChunkFrames(pieces(blobs), LIMITS, buffers)) {
    const want = blobs[i] as Buffer;
    assert.equal(frame.digest, digestOf(want) as Digest);
    assert.ok(frame.blob.equals(want), `frame ${i} arrived intact`);
    memory.push(frame.blob.buffer);
    buffers.give(frame.blob);
    i++;
  }
  assert.equal(i, blobs.length);
  // 1 MiB, 3 MiB, 4 MiB + 12 and 2 MiB + 5 all fit the first large buffer; 6 MiB needs its own. Both are then free,
  // and 3 MiB goes to the smaller one.
  assert.equal(memory[2], memory[1]);
  assert.equal(memory[3], memory[1]);
  assert.equal(memory[4], memory[1]);
  assert.notEqual(memory[5], memory[1]);
  assert.equal(memory[6], memory[1]);
});

test('a blob kept by the consumer is never overwritten, and giving one back twice does not lend it twice', async () => {
  const blobs = [1, 2, 3, 4].map((seed) => seededBytes(seed, 2 * MIB));
  const buffers = new ChunkBuffers();
  const received: Buffer[] = [];
  let i = 0;
  for await (const frame of readChunkFrames(pieces(blobs), LIMITS, buffers)) {
    received.push(frame.blob);
    if (i === 1) {
      buffers.give(frame.blob);
      buffers.give(frame.blob); // a second give of the same blob is ignored
    }
    i++;
  }
  // Frame 0 was kept: frames 1..3 went elsewhere. Frame 2 reused frame 1's memory; frame 3 could not (2 is kept).
  assert.ok((received[0] as Buffer).equals(blobs[0] as Buffer), 'the kept blob still holds its chunk');
  assert.notEqual(received[1]?.buffer, received[0]?.buffer);
  assert.equal(received[2]?.buffer, received[1]?.buffer);
  assert.notEqual(received[3]?.buffer, received[2]?.buffer);
  assert.ok((received[2] as Buffer).equals(blobs[2] as Buffer));
  assert.ok((received[3] as Buffer).equals(blobs[3] as Buffer));
});

test('small blobs come from the shared pool and are not taken back', async () => {
  const buffers = new ChunkBuffers();
  const small = await buffers.take(1000);
  buffers.give(small);
  const large = await buffers.take(1000 * 1000);
  assert.notEqual(large.buffer, small.buffer);
  assert.equal(buffers.inUse, 1, 'only the large blob counts');
});

/** Resolves once `promise` has settled, or says it is still pending after the event loop ran a few times. */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

test('streams sharing one ChunkBuffers wait while `capacity` blobs are out, and go on when one is given back or released', async () => {
  const a = [1, 2].map((seed) => seededBytes(seed, 2 * MIB));
  const b = [3, 4].map((seed) => seededBytes(seed, 3 * MIB));
  const buffers = new ChunkBuffers(1);
  const sa = readChunkFrames(pieces(a), LIMITS, buffers);
  const sb = readChunkFrames(pieces(b), LIMITS, buffers);
  const fa = (await sa.next()).value as { blob: Buffer };
  assert.ok(fa.blob.equals(a[0] as Buffer));
  assert.equal(buffers.inUse, 1);
  const pb = sb.next();
  assert.equal(await settledSoon(pb), false, 'the second stream waits: the only buffer is out');
  buffers.release(fa.blob); // kept by the consumer: frees the slot, but its memory is never reused
  const fb = (await pb).value as { blob: Buffer };
  assert.ok(fb.blob.equals(b[0] as Buffer));
  assert.notEqual(fb.blob.buffer, fa.blob.buffer);
  assert.ok(fa.blob.equals(a[0] as Buffer), 'the released blob still holds its chunk');
  const pa = sa.next();
  assert.equal(await settledSoon(pa), false);
  buffers.give(fb.blob); // done with: the next frame is read into its memory
  const fa2 = (await pa).value as { blob: Buffer };
  assert.ok(fa2.blob.equals(a[1] as Buffer));
  assert.equal(fa2.blob.buffer, fb.blob.buffer);
  buffers.give(fa2.blob);
  buffers.give(fa2.blob); // a second give of the same blob changes nothing
  assert.equal(buffers.inUse, 0);
  const fb2 = (await sb.next()).value as { blob: Buffer };
  assert.ok(fb2.blob.equals(b[1] as Buffer));
  buffers.give(fb2.blob);
  for (const s of [sa, sb]) assert.equal((await s.next()).done, true);
});

test("a stream that fails inside a frame gives that frame's memory back", async () => {
  const blob = seededBytes(9, 2 * MIB);
  const whole = Buffer.concat(encodeFrames([{ digest: digestOf(blob), blob }]));
  async function* broken(): AsyncGenerator<Uint8Array> {
    yield whole.subarray(0, 1000);
    throw new Error('connection reset');
  }
  const buffers = new ChunkBuffers(1);
  await assert.rejects(async () => {
    for await (const _ of readChunkFrames(broken(), LIMITS, buffers)) assert.fail('no frame is complete');
  }, /connection reset/);
  assert.equal(buffers.inUse, 0);
  assert.equal(await settledSoon(buffers.take(2 * MIB)), true, 'the slot is free again');
});

/** Pushes `body` to `sink` in pieces of `size`, waiting whenever push returns a promise; counts those waits. */
async function pushAll(sink: ChunkFrameSink, body: Buffer, size: number): Promise<number> {
  let waits = 0;
  for (let at = 0; at < body.length; at += size) {
    const wait = sink.push(body.subarray(at, at + size));
    if (wait !== undefined) {
      waits++;
      await wait;
    }
  }
  sink.end();
  return waits;
}

test('a pushed body yields every frame intact whatever its piece sizes; push waits only for a busy consumer', async () => {
  const blobs = [100, 2 * MIB + 3, 0, 70_000, 4 * MIB].map((n, i) => seededBytes(i + 20, n));
  const body = Buffer.concat([
    ...encodeFrames(blobs.slice(0, 2).map((blob) => ({ digest: digestOf(blob), blob }))),
    encodeFrameHeader(digestOf(Buffer.from('gone')), 'deferred', 0),
    ...encodeFrames(blobs.slice(2).map((blob) => ({ digest: digestOf(blob), blob }))),
  ]);
  for (const size of [1, 39, 41, 7919, 65536, body.length]) {
    const buffers = new ChunkBuffers(1);
    const got: ChunkFrame[] = [];
    let busy = false;
    const sink = new ChunkFrameSink(LIMITS, buffers, (frame) => {
      got.push({ ...frame, blob: Buffer.from(frame.blob) });
      if (frame.blob.length < 64 * 1024) return undefined; // a small blob: taken at once
      busy = true;
      // A large blob: its consumer takes a while, then hands the memory back.
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          busy = false;
          buffers.give(frame.blob);
          resolve();
        }),
      );
    });
    const pushes = Math.ceil(body.length / size);
    const waits = await pushAll(sink, body, size);
    assert.equal(busy, false);
    assert.equal(got.length, 6, `pieces of ${size}`);
    assert.deepEqual(
      got.map((f) => f.status),
      ['ok', 'ok', 'deferred', 'ok', 'ok', 'ok'],
    );
    for (const [i, blob] of blobs.entries()) {
      const frame = got[i < 2 ? i : i + 1] as ChunkFrame;
      assert.equal(frame.digest, digestOf(blob));
      assert.ok(frame.blob.equals(blob), `frame of ${blob.length} bytes intact in pieces of ${size}`);
    }
    // One wait per large blob, not per piece (a single piece holding them all waits once, for all three).
    assert.equal(waits, pushes === 1 ? 1 : 3, `pieces of ${size}`);
    assert.equal(buffers.inUse, 0);
  }
});

test('a pushed body that ends inside a frame is truncated, and the frame under way gives its memory back', async () => {
  const blob = seededBytes(31, 2 * MIB);
  const whole = Buffer.concat(encodeFrames([{ digest: digestOf(blob), blob }]));
  const buffers = new ChunkBuffers(1);
  const sink = new ChunkFrameSink(LIMITS, buffers, () => assert.fail('no frame is complete'));
  assert.equal(sink.push(whole.subarray(0, 5000)), undefined);
  assert.equal(buffers.inUse, 1);
  assert.throws(
    () => sink.end(),
    (err) => isFerryError(err, 'FERRY_ERR_TRUNCATED') && /inside frame 0 \(chunk /.test(err.message),
  );
  sink.abandon();
  assert.equal(buffers.inUse, 0);
  assert.equal(await settledSoon(buffers.take(2 * MIB)), true, 'the slot is free again');
});

test('a pushed header over the limits is refused before any memory is taken', () => {
  const buffers = new ChunkBuffers(1);
  const sink = new ChunkFrameSink({ ...LIMITS, maxBlob: 1000 }, buffers, () => undefined);
  const header = encodeFrameHeader(digestOf(Buffer.from('x')), 'ok', 5000);
  assert.throws(
    () => sink.push(header),
    (err) => isFerryError(err, 'FERRY_ERR_TOO_LARGE') && /chunk frame 0: 5000 bytes/.test(err.message),
  );
  assert.equal(buffers.inUse, 0);
});
