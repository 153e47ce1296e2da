import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, formatError, inContext } from '../errors/index.js';
import {
  type ArchiveIndex,
  checkBlob,
  chunksEncrypted,
  type Manifest,
  manifestVerifyState,
  manifestVerifyTime,
  parseArchiveIndex,
  sha256,
} from '../format/index.js';
import { readdirOrEmpty, TaskWindow } from '../io/index.js';
import type { LogMethods } from '../log/index.js';
import {
  archiveKind,
  type Digest,
  formatNamespace,
  formatSnapshot,
  isDigest,
  type Namespace,
  nowSeconds,
  ROOT_NAMESPACE,
  type SnapshotRef,
  shortDigest,
} from '../model/index.js';
import { UNKNOWN_SIZE } from './chunk-index.js';
import type { ChunkPool } from './chunk-pool.js';
import type { Datastore } from './datastore.js';

export interface VerifyOptions {
  pool: ChunkPool;
  log: LogMethods;
  /** Verify this namespace and those below it (default: the whole datastore). */
  ns?: Namespace;
  /** Namespace levels below `ns` included (default: all). */
  maxDepth?: number;
  /** Verify only this snapshot (in `ns`). */
  snapshot?: SnapshotRef;
  /**
   * Skip snapshots whose last verification passed (PBS's `ignore-verified`), unless it ran more than
   * `outdatedAfterDays` days ago (0: verify them all the same; with it, one whose verification time cannot be read
   * is verified). A snapshot whose last verification failed is always verified again (PBS would skip it; an operator
   * wants to know whether it is still damaged). A snapshot named with `snapshot` is always verified.
   */
  ignoreVerified?: { outdatedAfterDays?: number };
  /** The id recorded as `upid` in the manifests' verify state (a PBS UPID: its start time is the verify time). */
  taskId: string;
  /**
   * Change nothing (a datastore in read-only maintenance): check all the same, but record no verify state and move no
   * damaged chunk aside.
   */
  readOnly?: boolean;
  signal?: AbortSignal;
}

export interface VerifyReport {
  snapshots: number;
  snapshotsFailed: number;
  chunks: number;
  chunksFailed: number;
  /** Chunk files that have no index entry (left by an interrupted insert; harmless, GC removes them). */
  unindexedFiles: number;
  /** Snapshots left out because their last verification passed recently enough (`ignoreVerified`). */
  skipped: number;
  /** One line per problem, with its full context. */
  problems: string[];
}

/**
 * Verifies snapshots and the chunk store. Steps:
 *   1. for each finished snapshot (holding its lock shared): check every archive's size and csum against the
 *      manifest, and every chunk once per run: CRC, crypt mode, decompression, SHA-256, plain length against the
 *      index, encoded length against the lmdb entry; record `verify_state` in the manifest's unprotected part;
 *   2. a damaged chunk is moved aside (`.bad`) and dropped from the index, so the next backup or sync replaces it;
 *      with `readOnly`, neither this nor step 1's record happens: the report is all there is;
 *   3. for a whole-datastore run: every lmdb entry must have its file (and the same size); files without an entry
 *      are counted, not failed (an insert interrupted between rename and index write leaves one).
 */
export async function verifyDatastore(ds: Datastore, options: VerifyOptions): Promise<VerifyReport> {
  const report: VerifyReport = {
    snapshots: 0,
    snapshotsFailed: 0,
    skipped: 0,
    chunks: 0,
    chunksFailed: 0,
    unindexedFiles: 0,
    problems: [],
  };
  const chunkResults = new Map<Digest, Promise<string | undefined>>();
  const anchor = options.ns ?? ROOT_NAMESPACE;
  const targets: { ns: Namespace; snapshot: SnapshotRef }[] = [];
  if (options.snapshot) {
    targets.push({ ns: anchor, snapshot: options.snapshot });
  } else {
    const skip = options.ignoreVerified;
    const now = nowSeconds(ds.clock);
    for await (const { ns, group } of ds.walkGroups(anchor, options.maxDepth)) {
      for (const s of await ds.listSnapshots(ns, group, { manifests: skip !== undefined })) {
        if (!s.finished) continue;
        if (skip && s.manifest && verifiedRecently(s.manifest, skip.outdatedAfterDays, now)) {
          report.skipped++;
          continue;
        }
        targets.push({ ns, snapshot: s.snapshot });
      }
    }
  }
  for (const { ns, snapshot } of targets) {
    options.signal?.throwIfAborted();
    const prefix = `${ns === ROOT_NAMESPACE ? '' : `namespace ${formatNamespace(ns)}: `}snapshot ${formatSnapshot(snapshot)}`;
    const problems = await verifySnapshot(ds, ns, snapshot, options, chunkResults, report);
    report.snapshots++;
    if (problems.length > 0) report.snapshotsFailed++;
    for (const p of problems) {
      report.problems.push(`${prefix}: ${p}`);
      options.log.error(`${prefix}: ${p}`);
    }
    if (problems.length === 0) options.log.info(`${prefix}: ok`);
  }
  if (!options.snapshot && anchor === ROOT_NAMESPACE) await crossCheckIndex(ds, report, options);
  return report;
}

/** Whether a snapshot's last verification passed and is not older than `outdatedAfterDays` (if given, and not 0). */
function verifiedRecently(manifest: Manifest, outdatedAfterDays: number | undefined, now: number): boolean {
  if (manifestVerifyState(manifest) !== 'ok') return false;
  if (outdatedAfterDays === undefined) return true;
  const at = manifestVerifyTime(manifest);
  return outdatedAfterDays > 0 && at !== undefined && Math.floor((now - at) / 86_400) <= outdatedAfterDays;
}

async function verifySnapshot(
  ds: Datastore,
  ns: Namespace,
  snapshot: SnapshotRef,
  options: VerifyOptions,
  chunkResults: Map<Digest, Promise<string | undefined>>,
  report: VerifyReport,
): Promise<string[]> {
  const problems: string[] = [];
  let lock: Awaited<ReturnType<Datastore['lockSnapshot']>>;
  try {
    lock = await ds.lockSnapshot(ns, snapshot, 'shared', 5000);
  } catch (err) {
    return [formatError(err)];
  }
  try {
    let manifest: Manifest;
    try {
      manifest = await ds.readManifest(ns, snapshot);
    } catch (err) {
      return [formatError(err)];
    }
    for (const file of manifest.files) {
      try {
        await inContext(`archive ${file.filename}`, async () => {
          const bytes = await ds.readArchive(ns, snapshot, file.filename);
          const kind = archiveKind(file.filename);
          if (kind === 'blob') {
            if (bytes.length !== file.size) {
              throw new FerryError('FERRY_ERR_SIZE_MISMATCH', `wrong size (${bytes.length} != ${file.size})`);
            }
            if (sha256(bytes).toString('hex') !== file.csum)
              throw new FerryError('FERRY_ERR_CSUM_MISMATCH', 'wrong checksum');
            checkBlob(bytes);
            return;
          }
          const index = parseArchiveIndex(kind, bytes);
          if (index.size !== file.size)
            throw new FerryError('FERRY_ERR_SIZE_MISMATCH', `wrong size (${index.size} != ${file.size})`);
          if (index.csum().toString('hex') !== file.csum)
            throw new FerryError('FERRY_ERR_CSUM_MISMATCH', 'wrong checksum');
          const chunkProblems = await verifyChunks(
            ds,
            index,
            chunksEncrypted(file),
            options,
            chunkResults,
            report,
          );
          for (const p of chunkProblems) problems.push(`archive ${file.filename}: ${p}`);
        });
      } catch (err) {
        problems.push(formatError(err));
      }
    }
    const state = problems.length === 0 ? 'ok' : 'failed';
    if (options.readOnly === true) return problems;
    await ds
      .updateManifestUnprotected(ns, snapshot, { verify_state: { state, upid: options.taskId } })
      .catch((err: unknown) => {
        problems.push(`cannot record verify state: ${formatError(err)}`);
      });
    return problems;
  } finally {
    await lock.release();
  }
}

async function verifyChunks(
  ds: Datastore,
  index: ArchiveIndex,
  encrypted: boolean,
  options: VerifyOptions,
  chunkResults: Map<Digest, Promise<string | undefined>>,
  report: VerifyReport,
): Promise<string[]> {
  const problems: string[] = [];
  const window = new TaskWindow(options.pool.memoryDepth);
  const mine: Promise<void>[] = [];
  for (let i = 0; i < index.count; i++) {
    options.signal?.throwIfAborted();
    const digest = index.digestAt(i);
    const expectedSize = index.chunkEnd(i) - index.chunkStart(i);
    let result = chunkResults.get(digest);
    if (result === undefined) {
      result = checkOneChunk(ds, digest, expectedSize, encrypted, options);
      chunkResults.set(digest, result);
      report.chunks++;
      window.track(result);
      mine.push(
        result.then((problem) => {
          if (problem !== undefined) {
            report.chunksFailed++;
            problems.push(`chunk ${shortDigest(digest)}: ${problem}`);
          }
        }),
      );
      await window.room();
    }
  }
  await Promise.all(mine);
  return problems;
}

async function checkOneChunk(
  ds: Datastore,
  digest: Digest,
  expectedSize: number,
  encrypted: boolean,
  options: VerifyOptions,
): Promise<string | undefined> {
  const entry = ds.chunks.get(digest);
  try {
    const r = await options.pool.verify(ds.path, digest, encrypted ? undefined : expectedSize, encrypted);
    if (entry === undefined)
      return 'chunk file exists but is not in the chunk index (run ferry datastore reindex)';
    if (entry.encodedSize !== r.encodedSize)
      return `chunk file is ${r.encodedSize} bytes, the index says ${entry.encodedSize}`;
    if (r.plainSize !== undefined && entry.plainSize !== UNKNOWN_SIZE && entry.plainSize !== r.plainSize) {
      return `chunk holds ${r.plainSize} bytes, the index says ${entry.plainSize}`;
    }
    return undefined;
  } catch (err) {
    const message = err instanceof FerryError ? err.message : formatError(err);
    const damaged =
      err instanceof FerryError && err.code !== 'FERRY_ERR_NOT_FOUND' && err.code !== 'FERRY_ERR_IO';
    if (damaged && options.readOnly !== true) {
      const moved = await ds.chunks.quarantine(digest).catch(() => undefined);
      return moved ? `${message} (moved aside as .bad)` : message;
    }
    return message;
  }
}

async function crossCheckIndex(ds: Datastore, report: VerifyReport, options: VerifyOptions): Promise<void> {
  for (const [digest, entry] of ds.chunks.index.entries()) {
    options.signal?.throwIfAborted();
    const size = await ds.chunks.fileSize(digest);
    if (size === undefined) {
      report.problems.push(
        `chunk index: chunk ${shortDigest(digest)} is indexed but its file is missing (run ferry datastore reindex)`,
      );
    } else if (size !== entry.encodedSize) {
      report.problems.push(
        `chunk index: chunk ${shortDigest(digest)} is indexed as ${entry.encodedSize} bytes, its file has ${size}`,
      );
    }
  }
  for (const prefix of await readdirOrEmpty(ds.layout.chunksDir)) {
    if (!/^[0-9a-f]{4}$/.test(prefix)) continue;
    for (const name of await readdir(join(ds.layout.chunksDir, prefix)).catch(() => [] as string[])) {
      if (isDigest(name) && name.startsWith(prefix) && !ds.chunks.has(name)) {
        const s = await stat(join(ds.layout.chunksDir, prefix, name)).catch(() => undefined);
        if (s?.isFile()) report.unindexedFiles++;
      }
    }
  }
  if (report.unindexedFiles > 0) {
    options.log.info(
      `chunk store: ${report.unindexedFiles} chunk file(s) not in the index (interrupted inserts); gc removes them`,
    );
  }
}
