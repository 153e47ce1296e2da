import { FerryError, inContext } from '../errors/index.js';
import {
  checkBlob,
  chunksEncrypted,
  type ManifestFile,
  manifestSnapshotMatches,
  parseArchiveIndex,
  parseManifestBlob,
  sha256,
} from '../format/index.js';
import type { ProgressCounters } from '../log/index.js';
import {
  type ArchiveName,
  type AuthId,
  archiveKind,
  type Clock,
  formatBackupTime,
  formatBytes,
  type GroupRef,
  isIndexArchive,
  MANIFEST_NAME,
  type Namespace,
} from '../model/index.js';
import type { ChunkClaims } from './chunk-claims.js';
import { type AheadIndex, ChunkMover, type TransferOptions } from './chunk-mover.js';
import { quiet, SnapshotFiles } from './snapshot-files.js';
import { type Selection, type SelectionRules, selectSnapshots } from './snapshot-selection.js';
import type {
  SnapshotListing,
  SourceGroupReader,
  SyncSource,
  SyncTarget,
  TargetGroupWriter,
} from './sync-types.js';

/** Where a group's lines go: the worker sends them to the coordinator's aggregator, labelled with the group. */
export interface GroupLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface GroupJob {
  source: SyncSource;
  target: SyncTarget;
  sourceNs: Namespace;
  targetNs: Namespace;
  group: GroupRef;
  /** The source's snapshots of the group as the coordinator listed them (the job's start); absent: listed here. */
  sourceListing?: readonly SnapshotListing[];
  owner: AuthId;
  jobToken: number;
  rules: SelectionRules & { removeVanished: boolean; resyncCorrupt: boolean };
  transfer: TransferOptions;
  claims: ChunkClaims;
  progress: ProgressCounters;
  slot: number;
  log: GroupLog;
  clock: Clock;
  /**
   * Aborted when the job is stopped: the group starts nothing new, and its requests and rate-limit waits in flight
   * end at once (a rate-limited batch could otherwise hold the stop for as long as its bytes take).
   */
  signal: AbortSignal;
}

export interface GroupResult {
  snapshotsSynced: number;
  snapshotsUnchanged: number;
  snapshotsRemoved: number;
}

/**
 * Syncs one group. Steps: take the group on the target (lock, strict owner); select the source snapshots by PBS's
 * rules; sync them oldest first, stopping at the first failure (the group fails, other groups go on); then remove
 * target snapshots that vanished from the source (never protected ones), if asked.
 */
export async function syncGroup(job: GroupJob): Promise<GroupResult> {
  const result: GroupResult = { snapshotsSynced: 0, snapshotsUnchanged: 0, snapshotsRemoved: 0 };
  const writer = await job.target.openGroup(job.targetNs, job.group, job.owner, job.jobToken);
  let reader: SourceGroupReader | undefined;
  // A group the target has no finished snapshot of (a first sync) will fetch from the source: its reader is opened
  // while the source's listing is still on its way, a round trip sooner. A group the target has is left to decide
  // after the listing (an unchanged group opens nothing).
  let early: Promise<SourceGroupReader> | undefined;
  try {
    const sourceListing = job.sourceListing
      ? Promise.resolve(job.sourceListing)
      : quiet(job.source.listSnapshots(job.sourceNs, job.group));
    const targetSnaps = await writer.listSnapshots();
    if (!targetSnaps.some((s) => s.finished)) {
      // With the listing at hand, the source sends the first snapshot's files with the session: its chunks are
      // asked for a round trip sooner.
      const first = job.sourceListing && selectSnapshots(job.sourceListing, undefined, job.rules).selected[0];
      const prefetch = first ? { time: first.time, files: [MANIFEST_NAME, ...first.archives] } : undefined;
      early = quiet(job.source.openGroup(job.sourceNs, job.group, prefetch));
    }
    const sourceSnaps = await sourceListing;
    const targetNewest = targetSnaps.filter((s) => s.finished).at(-1)?.time;
    const selection = selectSnapshots(sourceSnaps, targetNewest, job.rules);
    if (job.rules.resyncCorrupt && job.rules.direction === 'pull')
      addCorrupt(selection, sourceSnaps, targetSnaps, job.log);
    for (const note of selection.skipped) job.log.info(note);
    job.progress.set(job.slot, 'snapshotsTotal', selection.selected.length);
    const local = new Map(targetSnaps.map((s) => [s.time, s]));
    const refetch = (snap: SnapshotListing): boolean => {
      const existing = local.get(snap.time);
      return !existing?.finished || (job.rules.resyncCorrupt && existing.verifyState === 'failed');
    };
    // The snapshots whose files come from the source, in order: each one's files are asked for while the one
    // before it moves its chunks.
    const toFetch = selection.selected.filter(refetch);
    const ahead = new Map<number, Promise<SnapshotFiles>>();
    const filesFor = (r: SourceGroupReader, snap: SnapshotListing): Promise<SnapshotFiles> => {
      const files = ahead.get(snap.time) ?? SnapshotFiles.fetch(r, snap.time, snap.archives);
      ahead.delete(snap.time);
      return files;
    };
    const nextAfter = (r: SourceGroupReader, time: number): NextSnapshot => {
      const next = toFetch[toFetch.findIndex((s) => s.time === time) + 1];
      return {
        prefetch: () => {
          if (next !== undefined && !ahead.has(next.time))
            ahead.set(next.time, SnapshotFiles.fetch(r, next.time, next.archives));
        },
        indexes: () => {
          const files = next === undefined ? undefined : ahead.get(next.time);
          return files && quiet(files.then((f) => f.checkedIndexes()));
        },
      };
    };
    let mover: ChunkMover | undefined;
    for (const snap of selection.selected) {
      if (job.signal.aborted) throw new FerryError('FERRY_ERR_ABORTED', 'interrupted');
      const prefix = formatBackupTime(snap.time);
      const outcome = await inContext(`snapshot ${prefix}`, async () => {
        const existing = local.get(snap.time);
        if (existing?.finished && job.rules.resyncCorrupt && existing.verifyState === 'failed') {
          // resync-corrupt: the local copy failed verification; fetch it again (damaged chunks were moved aside).
          await writer.removeSnapshot(snap.time);
          job.log.info(`${prefix}: local copy failed verification, syncing it again`);
        } else if (existing?.finished) return resync(job, snap, existing, prefix);
        reader ??= await (early ?? job.source.openGroup(job.sourceNs, job.group));
        mover ??= new ChunkMover({
          reader,
          claims: job.claims,
          progress: job.progress,
          slot: job.slot,
          options: job.transfer,
          signal: job.signal,
        });
        const files = await filesFor(reader, snap);
        return syncSnapshot(job, writer, files, mover, snap, prefix, nextAfter(reader, snap.time));
      });
      if (outcome === 'synced') result.snapshotsSynced++;
      if (outcome === 'unchanged') result.snapshotsUnchanged++;
      job.progress.add(job.slot, 'snapshotsDone', 1);
    }
    if (job.rules.removeVanished) {
      for (const s of targetSnaps) {
        if (!s.finished || selection.sourceTimes.has(s.time)) continue;
        if (s.protected) {
          job.log.info(`${formatBackupTime(s.time)}: vanished from the source but protected, kept`);
          continue;
        }
        await inContext(`snapshot ${formatBackupTime(s.time)}`, () => writer.removeSnapshot(s.time));
        job.log.info(`${formatBackupTime(s.time)}: removed (vanished from the source)`);
        result.snapshotsRemoved++;
      }
    }
    return result;
  } finally {
    // An early reader nothing used (no snapshot to fetch, or the group failed first) is closed all the same.
    reader ??= await early?.catch(() => undefined);
    await reader?.close();
    await writer.close();
  }
}

/** resync-corrupt (PBS): local snapshots whose verification failed are synced again, whatever their age. */
function addCorrupt(
  selection: Selection,
  source: readonly SnapshotListing[],
  target: readonly SnapshotListing[],
  log: GroupLog,
): void {
  const chosen = new Set(selection.selected.map((s) => s.time));
  const failed = new Set(target.filter((s) => s.finished && s.verifyState === 'failed').map((s) => s.time));
  const extra = source.filter((s) => s.finished && failed.has(s.time) && !chosen.has(s.time));
  if (extra.length === 0) return;
  log.info(`resync-corrupt: ${extra.length} snapshot(s) failed local verification and are synced again`);
  selection.selected = [...selection.selected, ...extra].sort((a, b) => a.time - b.time);
}

/**
 * The target has this snapshot already (pull re-syncs its newest one every run). Ferry compares the protected part
 * of the manifests: equal means the same archives, so nothing moves, and the target's own verify state, notes and
 * protection stay as they are. A difference is refused rather than overwritten.
 */
function resync(
  job: GroupJob,
  snap: SnapshotListing,
  existing: SnapshotListing,
  prefix: string,
): 'unchanged' {
  if (snap.protectedCsum !== undefined && snap.protectedCsum === existing.protectedCsum) {
    job.log.info(`${prefix}: no data changes`);
    return 'unchanged';
  }
  throw new FerryError(
    'FERRY_ERR_CSUM_MISMATCH',
    'refusing to overwrite local snapshot: content differs from source',
  );
}

/** The snapshot synced after this one, if any: its files are asked for early, and its indexes read ahead. */
interface NextSnapshot {
  prefetch(): void;
  /** Its archive indexes, checked, once its files are here (undefined: no next snapshot, or nothing asked yet). */
  indexes(): Promise<readonly AheadIndex[]> | undefined;
}

async function syncSnapshot(
  job: GroupJob,
  writer: TargetGroupWriter,
  files: SnapshotFiles,
  mover: ChunkMover,
  snap: SnapshotListing,
  prefix: string,
  next: NextSnapshot,
): Promise<'synced' | 'vanished'> {
  const manifestBlob = files.manifestBlob;
  if (manifestBlob === undefined) {
    job.log.info(`${prefix}: skipped because vanished since start of sync`);
    return 'vanished';
  }
  const manifest = await inContext('file index.json.blob', async () => parseManifestBlob(manifestBlob));
  if (!manifestSnapshotMatches(manifest, { group: job.group, time: snap.time })) {
    throw new FerryError('FERRY_ERR_BAD_FORMAT', 'file index.json.blob: manifest describes another snapshot');
  }
  job.log.info(`${prefix}: start sync`);
  next.prefetch();
  const started = job.clock.now();
  const target = await writer.beginSnapshot(snap.time, job.rules.direction);
  mover.startSnapshot(target);
  // The last archive that moves chunks takes the next snapshot's new chunks along (see ChunkMover).
  const lastIndex = manifest.files.map((f) => isIndexArchive(f.filename)).lastIndexOf(true);
  try {
    let bytes = 0;
    for (const [i, file] of manifest.files.entries()) {
      bytes += await inContext(`archive ${file.filename}`, () =>
        syncArchive(job, files, mover, target, file, prefix, i === lastIndex ? next.indexes() : undefined),
      );
    }
    await target.commit(manifestBlob);
    const seconds = Math.max(0.001, (job.clock.now() - started) / 1000);
    job.log.info(`${prefix}: sync done (${formatBytes(bytes)} moved in ${seconds.toFixed(1)} s)`);
    return 'synced';
  } catch (err) {
    await target.abort().catch(() => undefined);
    throw err;
  }
}

/** Returns the bytes that crossed from the source for this archive (its chunks, or the blob). */
async function syncArchive(
  job: GroupJob,
  files: SnapshotFiles,
  mover: ChunkMover,
  target: Awaited<ReturnType<TargetGroupWriter['beginSnapshot']>>,
  file: ManifestFile,
  prefix: string,
  ahead: Promise<readonly AheadIndex[]> | undefined,
): Promise<number> {
  const name: ArchiveName = file.filename;
  const bytes = await files.archive(name);
  const kind = archiveKind(name);
  if (kind === 'blob') {
    if (bytes.length !== file.size)
      throw new FerryError(
        'FERRY_ERR_SIZE_MISMATCH',
        `wrong size for file (${bytes.length} != ${file.size})`,
      );
    if (sha256(bytes).toString('hex') !== file.csum)
      throw new FerryError('FERRY_ERR_CSUM_MISMATCH', 'wrong checksum for file');
    checkBlob(bytes);
    await target.writeArchive(name, bytes, file.cryptMode);
    return bytes.length;
  }
  const index = parseArchiveIndex(kind, bytes);
  if (index.size !== file.size)
    throw new FerryError('FERRY_ERR_SIZE_MISMATCH', `wrong size for file (${index.size} != ${file.size})`);
  if (index.csum().toString('hex') !== file.csum)
    throw new FerryError('FERRY_ERR_CSUM_MISMATCH', 'wrong checksum for file');
  const stats = await mover.moveIndexChunks(index, chunksEncrypted(file), ahead);
  await target.writeArchive(name, bytes, file.cryptMode);
  job.log.info(
    `${prefix}/${name}: ${stats.chunks} chunks, ${stats.fetched} fetched (${formatBytes(stats.fetchedBytes)}), ${stats.reused} reused${stats.proven > 0 ? ` (${stats.proven} proven)` : ''}`,
  );
  return stats.fetchedBytes + bytes.length;
}
