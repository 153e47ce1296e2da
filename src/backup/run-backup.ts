import { stat } from 'node:fs/promises';
import { FerryError, inContext } from '../errors/index.js';
import { MAX_BLOB_SIZE, type Manifest } from '../format/index.js';
import type { Logger } from '../log/index.js';
import {
  type AuthId,
  formatSnapshot,
  type GroupRef,
  type Namespace,
  type SnapshotRef,
} from '../model/index.js';
import { type ChunkPool, type Datastore, SnapshotWriter } from '../store/index.js';
import { backupBlob } from './backup-blob.js';
import { type ArchiveStats, type BackupContext, emptyStats } from './backup-context.js';
import { backupDirectory } from './backup-dir.js';
import { backupImage } from './backup-image.js';
import type { BackupSource } from './backup-spec.js';

export interface BackupRequest {
  ns: Namespace;
  group: GroupRef;
  /** Backup time, epoch seconds. */
  time: number;
  owner: AuthId;
  sources: BackupSource[];
  pool: ChunkPool;
  log: Logger;
  signal?: AbortSignal;
}

export interface BackupResult {
  snapshot: SnapshotRef;
  manifest: Manifest;
  archives: Record<string, ArchiveStats>;
  total: ArchiveStats;
}

/** Refuses a source that is missing, of the wrong kind or too large, before anything is written. */
async function checkSource(source: BackupSource): Promise<void> {
  const st = await stat(source.path);
  if (source.kind === 'tar' && !st.isDirectory()) {
    throw new FerryError('FERRY_ERR_INVALID_VALUE', `${source.path} is not a directory`);
  }
  if (source.kind !== 'tar' && !st.isFile() && !st.isBlockDevice()) {
    throw new FerryError('FERRY_ERR_INVALID_VALUE', `${source.path} is not a file`);
  }
  if (source.kind === 'conf' && st.size > MAX_BLOB_SIZE) {
    throw new FerryError(
      'FERRY_ERR_TOO_LARGE',
      `${source.path} is ${st.size} bytes; a blob archive holds at most ${MAX_BLOB_SIZE}`,
    );
  }
}

/**
 * One snapshot from a list of sources. Steps: begin the snapshot (group lock, owner, time rule); back up each
 * source as its archive; commit (chunk check, manifest renamed last). Any error or abort drops the snapshot whole.
 */
export async function runBackup(ds: Datastore, req: BackupRequest): Promise<BackupResult> {
  const snapshot: SnapshotRef = { group: req.group, time: req.time };
  return inContext(`snapshot ${formatSnapshot(snapshot)}`, async () => {
    for (const source of req.sources) await inContext(`archive ${source.archive}`, () => checkSource(source));
    const writer = await SnapshotWriter.begin(ds, req.ns, snapshot, { owner: req.owner });
    const ctx: BackupContext = {
      ds,
      writer,
      pool: req.pool,
      log: req.log,
      ...(req.signal ? { signal: req.signal } : {}),
    };
    const archives: Record<string, ArchiveStats> = {};
    const total = emptyStats();
    try {
      for (const source of req.sources) {
        const stats = await inContext(`archive ${source.archive}`, async () => {
          if (source.kind === 'img') return backupImage(ctx, source.archive, source.path);
          if (source.kind === 'tar') return backupDirectory(ctx, source.archive, source.path);
          return backupBlob(ctx, source.archive, source.path);
        });
        archives[source.archive] = stats;
        total.chunks += stats.chunks;
        total.newChunks += stats.newChunks;
        total.bytes += stats.bytes;
        total.newBytes += stats.newBytes;
        req.log.debug({ archive: source.archive, ...stats }, 'archive done');
      }
      const manifest = await writer.commit({
        unprotected: {
          chunk_upload_stats: {
            count: total.newChunks,
            size: total.bytes,
            compressed_size: total.newBytes,
            duplicates: total.chunks - total.newChunks,
          },
        },
      });
      return { snapshot, manifest, archives, total };
    } catch (err) {
      await writer.abort();
      throw err;
    }
  });
}
