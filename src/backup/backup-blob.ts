import { open } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';
import { encodeBlob, MAX_BLOB_SIZE } from '../format/index.js';
import type { ArchiveName } from '../model/index.js';
import type { ArchiveStats, BackupContext } from './backup-context.js';

/** Backs up a small file (a VM config) as one DataBlob archive (`NAME.conf.blob`). */
export async function backupBlob(ctx: BackupContext, name: ArchiveName, file: string): Promise<ArchiveStats> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    if (size > MAX_BLOB_SIZE) {
      throw new FerryError(
        'FERRY_ERR_TOO_LARGE',
        `${file} is ${size} bytes; a blob archive holds at most ${MAX_BLOB_SIZE}`,
      );
    }
    const data = await fh.readFile();
    const blob = encodeBlob(data);
    await ctx.writer.writeBlob(name, blob);
    return { chunks: 0, newChunks: 0, bytes: data.length, newBytes: blob.length };
  } finally {
    await fh.close();
  }
}
