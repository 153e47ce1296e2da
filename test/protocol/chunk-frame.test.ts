import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Digest, digestOf } from '../../src/model/index.js';
import { encodeFrames, FrameBuffers, readChunkFrames } from '../../src/protocol/index.js';
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
  const buffers = new FrameBuffers();
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
  // 1 MiB, 3 MiB, 4 MiB + 12 and 2 MiB + 5 all fit the first large buffer; 6 MiB needs its own, which then serves 3 MiB.
  assert.equal(memory[2], memory[1]);
  assert.equal(memory[3], memory[1]);
  assert.equal(memory[4], memory[1]);
  assert.notEqual(memory[5], memory[1]);
  assert.equal(memory[6], memory[5]);
});

test('a blob kept by the consumer is never overwritten, and giving one back twice does not lend it twice', async () => {
  const blobs = [1, 2, 3, 4].map((seed) => seededBytes(seed, 2 * MIB));
  const buffers = new FrameBuffers();
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

test('small blobs come from the shared pool and are not taken back', () => {
  const buffers = new FrameBuffers();
  const small = buffers.take(1000);
  buffers.give(small);
  const large = buffers.take(1000 * 1000);
  assert.notEqual(large.buffer, small.buffer);
});
