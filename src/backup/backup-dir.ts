import { resolve } from 'node:path';
import { create as createTar } from 'tar';
import { Chunker, dynamicEntry, encodeDynamicIndex } from '../format/index.js';
import { type ArchiveName, digestToBytes, nowSeconds } from '../model/index.js';
import { type ArchiveStats, type BackupContext, OrderedChunkQueue } from './backup-context.js';
import { walkTree } from './tree-walk.js';

/**
 * Backs up a directory tree as a tar stream (symlinks as links, modes, non-ASCII names via PAX headers) cut into
 * content-defined chunks (avg 4 MiB, min 1 MiB, max 16 MiB): `NAME.tar.didx`.
 */
export async function backupDirectory(
  ctx: BackupContext,
  name: ArchiveName,
  dir: string,
): Promise<ArchiveStats> {
  const entries: Buffer[] = [];
  let end = 0;
  const queue = new OrderedChunkQueue(ctx, (r) => {
    end += r.plainSize;
    entries.push(dynamicEntry(end, digestToBytes(r.digest)));
  });
  const chunker = new Chunker();
  let parts: Buffer[] = [];
  let partsLength = 0;
  const emit = async (): Promise<void> => {
    if (partsLength === 0) return;
    // Always a copy: tar may reuse its read buffers. A chunk of ≥ 4 KiB gets its own ArrayBuffer and is moved.
    const chunk = Buffer.concat(parts, partsLength);
    parts = [];
    partsLength = 0;
    await queue.push(chunk);
  };
  const { statCache, readdirCache } = await walkTree(dir);
  const tar = createTar({ cwd: resolve(dir), portable: false, follow: false, statCache, readdirCache }, [
    '.',
  ]);

  for await (const piece of tar as AsyncIterable<Buffer>) {
    let from = 0;
    for (const cut of chunker.scan(piece)) {
      parts.push(piece.subarray(from, cut));
      partsLength += cut - from;
      from = cut;
      await emit();
    }
    if (from < piece.length) {
      parts.push(piece.subarray(from));
      partsLength += piece.length - from;
    }
  }
  await emit();
  await queue.drain();
  await ctx.writer.writeIndex(
    name,
    encodeDynamicIndex({ ctime: nowSeconds(ctx.ds.clock), entries: Buffer.concat(entries) }),
  );
  return queue.stats;
}
