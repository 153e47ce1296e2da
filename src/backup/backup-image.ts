import { open } from 'node:fs/promises';
import { encodeFixedIndex, FIXED_CHUNK_SIZE } from '../format/index.js';
import { type ArchiveName, digestToBytes, nowSeconds } from '../model/index.js';
import { type ArchiveStats, type BackupContext, OrderedChunkQueue } from './backup-context.js';

/**
 * Backs up a file or image as a fixed index of 4 MiB chunks (`NAME.img.fidx`). Workers read their ranges of the
 * file themselves, so this thread only schedules and collects digests in order.
 *
 * The file is opened once here, and the workers read through that descriptor (one process, one descriptor table),
 * so a chunk costs one read in libuv's queue, not an open, a read and a close, each waiting behind the other
 * tasks' writes and fsyncs. Backup of a 1 GiB image, 2 threads, side by side in one process (2026-11-29): 605 →
 * 653 MiB/s (medians of 8 rounds, ahead in every round; 644 → 661 and 555 → 595 in two more sittings). The size and
 * every read refer to the same file, even if the path is replaced meanwhile. It is closed only once no worker can
 * still be reading through it, failure or not.
 */
export async function backupImage(
  ctx: BackupContext,
  name: ArchiveName,
  file: string,
): Promise<ArchiveStats> {
  const handle = await open(file, 'r');
  const queue = new OrderedChunkQueue(ctx, (r) => {
    digestToBytes(r.digest).copy(digests, next * 32);
    next++;
  });
  let digests = Buffer.alloc(0);
  let next = 0;
  try {
    const size = (await handle.stat()).size;
    const count = Math.ceil(size / FIXED_CHUNK_SIZE);
    digests = Buffer.alloc(count * 32);
    const source = { path: file, fd: handle.fd };
    for (let offset = 0; offset < size; offset += FIXED_CHUNK_SIZE) {
      await queue.pushRange(source, offset, Math.min(FIXED_CHUNK_SIZE, size - offset));
    }
    await queue.drain();
    if (next !== count) throw new Error(`${file}: ${next} chunks stored, ${count} expected`);
    await ctx.writer.writeIndex(name, encodeFixedIndex({ ctime: nowSeconds(ctx.ds.clock), size, digests }));
    return queue.stats;
  } finally {
    await queue.settled();
    await handle.close();
  }
}
