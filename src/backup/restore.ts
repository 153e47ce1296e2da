import { once } from 'node:events';
import { mkdir, open, readdir, writeFile } from 'node:fs/promises';
import { extract as extractTar } from 'tar';
import { FerryError, inContext, inContextSync } from '../errors/index.js';
import {
  type ArchiveIndex,
  chunksEncrypted,
  decodeBlob,
  parseArchiveIndex,
  sha256,
  verifyChunk,
} from '../format/index.js';
import {
  type ArchiveName,
  archiveKind,
  formatSnapshot,
  type Namespace,
  type SnapshotRef,
  shortDigest,
} from '../model/index.js';
import type { Datastore } from '../store/index.js';

export interface RestoreResult {
  archive: ArchiveName;
  bytes: number;
  chunks: number;
}

/**
 * Restores one archive of a finished snapshot to `dest` (a file for `.fidx`/`.blob`, a directory for a `.tar.didx`).
 * Every chunk is verified on the way (CRC, SHA-256, length). `dest` must not exist (an empty directory is fine for
 * a directory archive): a restore never overwrites.
 */
export async function restoreArchive(
  ds: Datastore,
  ns: Namespace,
  snapshot: SnapshotRef,
  archive: ArchiveName,
  dest: string,
  options: { signal?: AbortSignal } = {},
): Promise<RestoreResult> {
  return inContext(`snapshot ${formatSnapshot(snapshot)}`, async () => {
    const lock = await ds.lockSnapshot(ns, snapshot, 'shared', 5000);
    try {
      const manifest = await ds.readManifest(ns, snapshot);
      const file = manifest.files.find((f) => f.filename === archive);
      if (!file) throw new FerryError('FERRY_ERR_NOT_FOUND', `archive ${archive} is not in the snapshot`);
      return await inContext(`archive ${archive}`, async () => {
        if (chunksEncrypted(file))
          throw new FerryError('FERRY_ERR_ENCRYPTED', 'archive is encrypted; Ferry cannot restore it');
        const bytes = await ds.readArchive(ns, snapshot, archive);
        const kind = archiveKind(archive);
        if (kind === 'blob') {
          if (sha256(bytes).toString('hex') !== file.csum)
            throw new FerryError('FERRY_ERR_CSUM_MISMATCH', 'wrong checksum');
          const data = decodeBlob(bytes);
          await writeFile(dest, data, { flag: 'wx' });
          return { archive, bytes: data.length, chunks: 0 };
        }
        const index = parseArchiveIndex(kind, bytes);
        if (index.csum().toString('hex') !== file.csum || index.size !== file.size) {
          throw new FerryError('FERRY_ERR_CSUM_MISMATCH', 'index does not match the manifest');
        }
        if (kind === 'fidx') await restoreFile(ds, index, dest, options.signal);
        else await restoreTree(ds, index, dest, options.signal);
        return { archive, bytes: index.size, chunks: index.count };
      });
    } finally {
      await lock.release();
    }
  });
}

/** Yields the plain bytes of each chunk of an index, verified. */
async function* chunkData(
  ds: Datastore,
  index: ArchiveIndex,
  signal: AbortSignal | undefined,
): AsyncGenerator<Buffer> {
  const read = (i: number) => ds.chunks.read(index.digestAt(i));
  let ahead = index.count > 0 ? read(0) : undefined;
  for (let i = 0; i < index.count; i++) {
    signal?.throwIfAborted();
    const blob = await (ahead as Promise<Buffer>);
    ahead = i + 1 < index.count ? read(i + 1) : undefined;
    ahead?.catch(() => undefined);
    const digest = index.digestAt(i);
    const expectedSize = index.chunkEnd(i) - index.chunkStart(i);
    yield inContextSync(`chunk ${shortDigest(digest)}`, () => {
      verifyChunk(blob, digest, { expectedSize, encrypted: false });
      return decodeBlob(blob, expectedSize);
    });
  }
}

async function restoreFile(
  ds: Datastore,
  index: ArchiveIndex,
  dest: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const fh = await open(dest, 'wx', 0o644);
  try {
    let offset = 0;
    for await (const data of chunkData(ds, index, signal)) {
      await fh.write(data, 0, data.length, offset);
      offset += data.length;
    }
    await fh.truncate(index.size);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function restoreTree(
  ds: Datastore,
  index: ArchiveIndex,
  dest: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  await mkdir(dest, { recursive: true });
  if ((await readdir(dest)).length > 0)
    throw new FerryError('FERRY_ERR_ALREADY_EXISTS', `directory ${dest} is not empty`);
  // Symlink targets are data and are restored as stored, absolute or not (preservePaths). What node-tar would then
  // no longer guard, we do: no entry path may be absolute, hold "..", or lead through a symlink the archive made.
  const links = new Set<string>();
  let refused: string | undefined;
  const unpack = extractTar({
    cwd: dest,
    chmod: true,
    processUmask: 0,
    preservePaths: true,
    strict: true,
    filter: (path, entry) => {
      const clean = path.replace(/^\.\//, '').replace(/\/$/, '');
      const parts = clean.split('/');
      const escapes = clean.startsWith('/') || parts.includes('..');
      const throughLink = parts.some((_, i) => i > 0 && links.has(parts.slice(0, i).join('/')));
      const hardlinkOut =
        'type' in entry &&
        entry.type === 'Link' &&
        typeof entry.linkpath === 'string' &&
        (entry.linkpath.startsWith('/') || entry.linkpath.split('/').includes('..'));
      if (escapes || throughLink || hardlinkOut) {
        refused ??= path;
        return false;
      }
      if ('type' in entry && entry.type === 'SymbolicLink') links.add(clean);
      return true;
    },
  });
  const failed = new Promise<never>((_, reject) => {
    unpack.on('error', reject);
  });
  failed.catch(() => undefined);
  for await (const data of chunkData(ds, index, signal)) {
    if (!unpack.write(data)) await Promise.race([once(unpack, 'drain'), failed]);
  }
  unpack.end();
  await Promise.race([once(unpack, 'close'), once(unpack, 'finish'), failed]);
  if (refused !== undefined) {
    throw new FerryError(
      'FERRY_ERR_BAD_FORMAT',
      `tar entry ${JSON.stringify(refused)} would be written outside the target directory`,
    );
  }
}
