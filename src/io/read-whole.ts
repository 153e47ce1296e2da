import { open } from 'node:fs/promises';

/**
 * Reads a whole file with one read call (fs.readFile reads in 512 KiB steps, each a trip through the thread pool and
 * the event loop, which is slow for 4 MiB chunks on a busy thread).
 */
export async function readWhole(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const buf = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(buf, done, size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === size ? buf : buf.subarray(0, done);
  } finally {
    await fh.close();
  }
}
