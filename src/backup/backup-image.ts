import { open } from 'node:fs/promises';
import { encodeFixedIndex, FIXED_CHUNK_SIZE } from '../format/index.js';
import { type ArchiveName, digestToBytes, nowSeconds } from '../model/index.js';
import { type ArchiveStats, type BackupContext, OrderedChunkQueue } from './backup-context.js';

/** Backs up a file or image as a fixed index of 4 MiB chunks (`NAME.img.fidx`). */
export async function backupImage(
  ctx: BackupContext,
  name: ArchiveName,
  file: string,
): Promise<ArchiveStats> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const count = Math.ceil(size / FIXED_CHUNK_SIZE);
    const digests = Buffer.alloc(count * 32);
    let next = 0;
    const queue = new OrderedChunkQueue(ctx, (r) => {
      digestToBytes(r.digest).copy(digests, next * 32);
      next++;
    });
    for (let offset = 0; offset < size; offset += FIXED_CHUNK_SIZE) {
      const length = Math.min(FIXED_CHUNK_SIZE, size - offset);
      // Its own ArrayBuffer (not the pool's), so it can be moved to a worker without a copy.
      const block = Buffer.allocUnsafeSlow(length);
      const { bytesRead } = await fh.read(block, 0, length, offset);
      if (bytesRead !== length) throw new Error(`${file} shrank while it was read (short read at ${offset})`);
      await queue.push(block);
    }
    await queue.drain();
    await ctx.writer.writeIndex(name, encodeFixedIndex({ ctime: nowSeconds(ctx.ds.clock), size, digests }));
    return queue.stats;
  } finally {
    await fh.close();
  }
}
