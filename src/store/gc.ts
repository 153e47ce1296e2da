import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, inContext } from '../errors/index.js';
import { parseArchiveIndex } from '../format/index.js';
import { acquireLock, isTmpName, readdirOrEmpty } from '../io/index.js';
import type { LogMethods } from '../log/index.js';
import { type Digest, formatSnapshot, isDigest, parseArchiveName } from '../model/index.js';
import type { Datastore } from './datastore.js';

/** PBS's default: a day and five minutes. */
export const DEFAULT_GC_GRACE_MS = (24 * 60 + 5) * 60 * 1000;
/** Margin below the oldest live writer's start, for clock steps between processes. */
const WRITER_MARGIN_MS = 5 * 60 * 1000;
const MARK_BATCH = 8192;

export interface GcOptions {
  log: LogMethods;
  /** Unreferenced chunks younger than this are kept (default 24 h 5 min). */
  graceMs?: number;
  signal?: AbortSignal;
  /** Called after the mark phase and after each swept shard (progress display; tests use it to act mid-run). */
  onProgress?: (event: { phase: 'marked' } | { phase: 'swept'; shard: number }) => Promise<void> | void;
}

export interface GcReport {
  /** When the run started (ms since the epoch): chunks used since then are never removed. */
  startedAt: number;
  indexFiles: number;
  markedChunks: number;
  removedChunks: number;
  removedBytes: number;
  /** Unreferenced but used after the cutoff: removed by a later run. */
  pendingChunks: number;
  keptChunks: number;
  keptBytes: number;
  removedUnindexedFiles: number;
  removedTmpFiles: number;
  /** lastUsed below this was swept (ms since the epoch). */
  cutoff: number;
}

/**
 * Garbage collection. Steps:
 *   1. take the GC lock (one GC per datastore; fails fast);
 *   2. mark: every index file in every snapshot directory (finished or not) moves its chunks' lastUsed to the start
 *      time; an unreadable index aborts GC, because then nothing can be known to be unreferenced;
 *   3. cutoff = min(start − grace, oldest live writer's start − 5 min): a writer touches every chunk it reuses or
 *      writes after it starts, so nothing an unpublished snapshot needs is older than the cutoff;
 *   4. sweep, shard by shard, holding the shard lock exclusively (inserts into that shard wait): an entry whose
 *      lastUsed is still below the cutoff — checked again inside the lmdb transaction that removes it — loses its
 *      entry, then its file; chunk files without an entry older than the cutoff and dead temp files go too.
 * A chunk inserted while GC runs has lastUsed ≥ start > cutoff and is never removed.
 */
export async function garbageCollect(ds: Datastore, options: GcOptions): Promise<GcReport> {
  const lock = await acquireLock(ds.layout.gcLockPath(), { what: 'garbage collection' });
  try {
    const start = ds.clock.now();
    const report: GcReport = {
      startedAt: start,
      indexFiles: 0,
      markedChunks: 0,
      removedChunks: 0,
      removedBytes: 0,
      pendingChunks: 0,
      keptChunks: 0,
      keptBytes: 0,
      removedUnindexedFiles: 0,
      removedTmpFiles: 0,
      cutoff: 0,
    };
    await mark(ds, start, report, options);
    const oldestWriter = await ds.writers.oldestActiveStart();
    const grace = options.graceMs ?? DEFAULT_GC_GRACE_MS;
    report.cutoff = Math.min(
      start - grace,
      oldestWriter === undefined ? Number.POSITIVE_INFINITY : oldestWriter - WRITER_MARGIN_MS,
    );
    options.log.info(
      {
        marked: report.markedChunks,
        indexFiles: report.indexFiles,
        cutoff: new Date(report.cutoff).toISOString(),
      },
      'gc: mark phase done',
    );
    await options.onProgress?.({ phase: 'marked' });
    const prefixes = (await readdirOrEmpty(ds.layout.chunksDir)).filter((p) => /^[0-9a-f]{4}$/.test(p));
    for (let shard = 0; shard < 256; shard++) {
      options.signal?.throwIfAborted();
      const hex = shard.toString(16).padStart(2, '0');
      await sweepShard(
        ds,
        shard,
        start,
        report,
        prefixes.filter((p) => p.startsWith(hex)),
      );
      await options.onProgress?.({ phase: 'swept', shard });
    }
    // Times as the mark phase's line gives them (a task log is read by people, not parsed for epoch milliseconds).
    options.log.info(
      { ...report, startedAt: new Date(start).toISOString(), cutoff: new Date(report.cutoff).toISOString() },
      'gc: done',
    );
    return report;
  } finally {
    await lock.release();
  }
}

async function mark(ds: Datastore, start: number, report: GcReport, options: GcOptions): Promise<void> {
  let batch: Digest[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    report.markedChunks += await ds.chunks.index.touchMany(batch, start);
    batch = [];
  };
  for await (const { ns, group } of ds.walkGroups()) {
    for (const s of await ds.listSnapshots(ns, group, { manifests: false })) {
      options.signal?.throwIfAborted();
      for (const name of await ds.listSnapshotFiles(ns, s.snapshot)) {
        if (!name.endsWith('.fidx') && !name.endsWith('.didx')) continue;
        await inContext(`snapshot ${formatSnapshot(s.snapshot)}: archive ${name}`, async () => {
          const archive = parseArchiveName(name);
          const index = parseArchiveIndex(
            name.endsWith('.fidx') ? 'fidx' : 'didx',
            await ds.readArchive(ns, s.snapshot, archive),
          );
          report.indexFiles++;
          for (let i = 0; i < index.count; i++) {
            batch.push(index.digestAt(i));
            if (batch.length >= MARK_BATCH) await flush();
          }
        }).catch((err: unknown) => {
          if (err instanceof FerryError && err.code === 'FERRY_ERR_NOT_FOUND') return; // removed meanwhile
          throw new FerryError(
            'FERRY_ERR_VERIFY_FAILED',
            'gc aborted: an index cannot be read, so nothing can be swept safely',
            {
              cause: err,
              context: err instanceof FerryError ? [err.message] : [],
            },
          );
        });
      }
    }
  }
  await flush();
}

async function sweepShard(
  ds: Datastore,
  shard: number,
  start: number,
  report: GcReport,
  prefixes: string[],
): Promise<void> {
  const lock = await acquireLock(ds.layout.chunkShardLockPath(shard), {
    waitMs: 10 * 60 * 1000,
    what: `chunk shard ${shard.toString(16).padStart(2, '0')}`,
  });
  try {
    for (const [digest, entry] of ds.chunks.index.entries(shard)) {
      if (entry.lastUsed < report.cutoff) {
        const removed = await ds.chunks.index.removeIfUnusedSince(digest, report.cutoff);
        if (removed) {
          await unlink(ds.layout.chunkPath(digest)).catch(() => undefined);
          report.removedChunks++;
          report.removedBytes += removed.encodedSize;
          continue;
        }
      }
      if (entry.lastUsed < start) report.pendingChunks++;
      else {
        report.keptChunks++;
        report.keptBytes += entry.encodedSize;
      }
    }
    for (const prefix of prefixes) {
      const dir = join(ds.layout.chunksDir, prefix);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const path = join(dir, name);
        if (isTmpName(name)) {
          // Inserts into this shard hold its lock shared; we hold it exclusively, so no temp file here is live.
          await unlink(path).catch(() => undefined);
          report.removedTmpFiles++;
        } else if (isDigest(name) && !ds.chunks.has(name)) {
          const s = await stat(path).catch(() => undefined);
          if (s?.isFile() && s.mtimeMs < report.cutoff) {
            await unlink(path).catch(() => undefined);
            report.removedUnindexedFiles++;
          }
        }
      }
    }
  } finally {
    await lock.release();
  }
}
