import { open } from 'node:fs/promises';

/** Where readWhole takes its memory from (ChunkBuffers, BufferRecycler). */
export interface BufferSource {
  take(length: number): Buffer | Promise<Buffer>;
  give(buf: Buffer): void;
}

/**
 * Reads a whole file with one read call (fs.readFile reads in 512 KiB steps, each a trip through the thread pool and
 * the event loop, which is slow for 4 MiB chunks on a busy thread). With `buffers`, the bytes go into memory taken
 * from there (waiting while all of it is out); the caller gives it back there (or, for ChunkBuffers, releases it).
 */
export async function readWhole(path: string, buffers?: BufferSource): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const buf = buffers === undefined ? Buffer.allocUnsafe(size) : await buffers.take(size);
    let done = 0;
    try {
      while (done < size) {
        const { bytesRead } = await fh.read(buf, done, size - done, done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (err) {
      buffers?.give(buf);
      throw err;
    }
    return done === size ? buf : buf.subarray(0, done);
  } finally {
    await fh.close();
  }
}
