import { stat } from 'node:fs/promises';
import { encodeFixedIndex, FIXED_CHUNK_SIZE } from '../format/index.js';
import { type ArchiveName, digestToBytes, nowSeconds } from '../model/index.js';
import { type ArchiveStats, type BackupContext, OrderedChunkQueue } from './backup-context.js';

/**
 * Backs up a file or image as a fixed index of 4 MiB chunks (`NAME.img.fidx`). Workers read their ranges of the
 * file themselves, so this thread only schedules and collects digests in order.
 */
export async function backupImage(
  ctx: BackupContext,
  name: ArchiveName,
  file: string,
): Promise<ArchiveStats> {
  const size = (await stat(file)).size;

  const count = Math.ceil(size / FIXED_CHUNK_SIZE);
  const digests = Buffer.alloc(count * 32);
  let next = 0;
  const queue = new OrderedChunkQueue(ctx, (r) => {
    digestToBytes(r.digest).copy(digests, next * 32);
    next++;
  });
  for (let offset = 0; offset < size; offset += FIXED_CHUNK_SIZE) {
    await queue.pushRange(file, offset, Math.min(FIXED_CHUNK_SIZE, size - offset));
  }
  await queue.drain();
  if (next !== count) throw new Error(`${file}: ${next} chunks stored, ${count} expected`);
  await ctx.writer.writeIndex(name, encodeFixedIndex({ ctime: nowSeconds(ctx.ds.clock), size, digests }));
  return queue.stats;
}
