import { mkdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, inContextSync } from '../errors/index.js';
import {
  type ArchiveIndex,
  type CryptMode,
  checkBlob,
  encodeManifestBlob,
  type Manifest,
  type ManifestFile,
  manifestSnapshotMatches,
  parseArchiveIndex,
  parseManifestBlob,
  sha256,
} from '../format/index.js';
import { fsyncDir, isTmpName, type Lock, readdirOrEmpty, writeTmp } from '../io/index.js';
import {
  type ArchiveName,
  type AuthId,
  archiveKind,
  CLIENT_LOG_NAME,
  type Digest,
  formatBackupTime,
  formatSnapshot,
  MANIFEST_NAME,
  type Namespace,
  parseArchiveName,
  type SnapshotRef,
  shortDigest,
} from '../model/index.js';
import type { Datastore } from './datastore.js';
import type { WriterRegistration } from './writer-registry.js';

export interface BeginSnapshotOptions {
  owner: AuthId;
  /** Wait this long for the group lock; 0 fails at once (the default). */
  lockWaitMs?: number;
  /**
   * `create` (backup, push): the snapshot must be newer than the group's last finished one.
   * `sync` (pull): the snapshot may exist already (a re-sync) or be older than the last one; existing files are kept
   * until the new manifest replaces the old one.
   */
  mode?: 'create' | 'sync';
  /** A writer registration the caller holds for longer (a whole sync job); otherwise one is taken here. */
  registration?: WriterRegistration;
  /** The group lock, when the caller holds it already (a sync holds its group across snapshots); kept on finish. */
  groupLock?: Lock;
}

/**
 * Writes one snapshot. Steps:
 *   1. take the group lock (exclusive; fails fast with FERRY_ERR_LOCKED) and check or set the owner;
 *   2. check the time rule, take the snapshot lock, create (or clean up a crashed writer's) snapshot directory;
 *   3. each archive goes to a temp file, is fsynced and renamed into place;
 *   4. `commit` checks every chunk an index references is in the chunk index, then writes the manifest the same way —
 *      the manifest's rename is the instant the snapshot becomes visible;
 *   5. `abort` removes the directory; a crash before commit leaves one without a manifest, which readers ignore and
 *      the next writer of that snapshot cleans up.
 */
export class SnapshotWriter {
  readonly ds: Datastore;
  readonly ns: Namespace;
  readonly snapshot: SnapshotRef;
  readonly dir: string;
  readonly groupCreated: boolean;
  private readonly locks: Lock[];
  private readonly registration: WriterRegistration;
  private readonly ownsRegistration: boolean;
  private readonly files = new Map<ArchiveName, ManifestFile>();
  private readonly referenced = new Set<Digest>();
  private done = false;

  private constructor(fields: {
    ds: Datastore;
    ns: Namespace;
    snapshot: SnapshotRef;
    locks: Lock[];
    registration: WriterRegistration;
    ownsRegistration: boolean;
    groupCreated: boolean;
  }) {
    this.ds = fields.ds;
    this.ns = fields.ns;
    this.snapshot = fields.snapshot;
    this.dir = fields.ds.layout.snapshotPath(fields.ns, fields.snapshot);
    this.locks = fields.locks;
    this.registration = fields.registration;
    this.ownsRegistration = fields.ownsRegistration;
    this.groupCreated = fields.groupCreated;
  }

  static async begin(
    ds: Datastore,
    ns: Namespace,
    snapshot: SnapshotRef,
    options: BeginSnapshotOptions,
  ): Promise<SnapshotWriter> {
    const mode = options.mode ?? 'create';
    const locks: Lock[] = [];
    const registration = options.registration ?? (await ds.registerWriter());
    try {
      if (!options.groupLock)
        locks.push(await ds.lockGroup(ns, snapshot.group, { waitMs: options.lockWaitMs ?? 0 }));
      const groupCreated = await ds.ensureGroup(ns, snapshot.group, options.owner);
      const dir = ds.layout.snapshotPath(ns, snapshot);
      if (await ds.snapshotFinished(ns, snapshot)) {
        throw new FerryError('FERRY_ERR_ALREADY_EXISTS', 'snapshot exists already');
      }
      if (mode === 'create') {
        const last = await ds.lastFinishedSnapshot(ns, snapshot.group);
        if (last !== undefined && last.time >= snapshot.time) {
          throw new FerryError(
            'FERRY_ERR_TIME_NOT_INCREASING',
            `backup time ${formatBackupTime(snapshot.time)} is not after the group's last snapshot ${formatBackupTime(last.time)}`,
          );
        }
      }
      locks.push(await ds.lockSnapshot(ns, snapshot, 'exclusive'));
      // An unfinished directory is a crashed writer's: a backup starts it afresh, a sync may reuse its archives.
      if (mode === 'create') await rm(dir, { recursive: true, force: true });
      else await removeTmpFiles(dir);
      await mkdir(dir, { recursive: true });
      return new SnapshotWriter({
        ds,
        ns,
        snapshot,
        locks,
        registration,
        ownsRegistration: !options.registration,
        groupCreated,
      });
    } catch (err) {
      for (const l of locks.reverse()) await l.release();
      if (!options.registration) await registration.release();
      throw err;
    }
  }

  /** Writes an index archive (`.fidx`/`.didx`); returns the parsed index. Its chunks must be stored before commit. */
  async writeIndex(name: ArchiveName, bytes: Buffer, cryptMode: CryptMode = 'none'): Promise<ArchiveIndex> {
    const kind = archiveKind(parseArchiveName(name));
    if (kind === 'blob') throw new FerryError('FERRY_ERR_INVALID_VALUE', `archive ${name} is not an index`);
    const index = parseArchiveIndex(kind, bytes);
    for (let i = 0; i < index.count; i++) this.referenced.add(index.digestAt(i));
    await this.place(name, bytes);
    this.files.set(name, { filename: name, cryptMode, size: index.size, csum: index.csum().toString('hex') });
    return index;
  }

  /** Writes a `.blob` archive: `blob` is the DataBlob file as it will be on disk. */
  async writeBlob(name: ArchiveName, blob: Buffer, cryptMode: CryptMode = 'none'): Promise<void> {
    if (archiveKind(parseArchiveName(name)) !== 'blob' || name === MANIFEST_NAME) {
      throw new FerryError('FERRY_ERR_INVALID_VALUE', `archive ${name} is not a blob archive`);
    }
    checkBlob(blob);
    await this.place(name, blob);
    this.files.set(name, {
      filename: name,
      cryptMode,
      size: blob.length,
      csum: sha256(blob).toString('hex'),
    });
  }

  /** Records a file already present and unchanged (re-sync), so the manifest keeps it. */
  keepFile(file: ManifestFile): void {
    this.files.set(file.filename, file);
  }

  get writtenFiles(): ManifestFile[] {
    return [...this.files.values()];
  }

  private async place(name: ArchiveName, bytes: Buffer): Promise<void> {
    this.assertOpen();
    const path = join(this.dir, name);
    const tmp = await writeTmp(path, bytes);
    await rename(tmp, path);
  }

  /**
   * Publishes the snapshot. With `manifest` (sync), that manifest is written as given after checking it lists
   * exactly the files written or kept with the same csum and size; otherwise one is built from the files written.
   */
  async commit(
    options: { manifest?: Manifest; manifestBlob?: Buffer; unprotected?: Record<string, unknown> } = {},
  ): Promise<Manifest> {
    this.assertOpen();
    for (const digest of this.referenced) {
      if (!this.ds.chunks.has(digest)) {
        throw new FerryError(
          'FERRY_ERR_NOT_FOUND',
          `chunk ${shortDigest(digest)} is referenced but not in the chunk store`,
          {
            fields: { digest },
          },
        );
      }
    }
    const given =
      options.manifestBlob === undefined
        ? options.manifest
        : inContextSync(`file ${MANIFEST_NAME}`, () => parseManifestBlob(options.manifestBlob as Buffer));
    if (given && !manifestSnapshotMatches(given, this.snapshot)) {
      throw new FerryError(
        'FERRY_ERR_BAD_FORMAT',
        `file ${MANIFEST_NAME}: manifest describes another snapshot`,
      );
    }
    const manifest = given ?? {
      backupType: this.snapshot.group.type,
      backupId: this.snapshot.group.id,
      backupTime: this.snapshot.time,
      files: [...this.files.values()],
      unprotected: options.unprotected ?? {},
      signature: null,
    };
    if (given) this.checkManifestMatches(given);
    await this.ds.chunks.index.flushed();
    const path = join(this.dir, MANIFEST_NAME);
    const tmp = await writeTmp(path, options.manifestBlob ?? encodeManifestBlob(manifest));
    await fsyncDir(this.dir);
    await rename(tmp, path);
    await fsyncDir(this.dir);
    await fsyncDir(this.ds.layout.groupPath(this.ns, this.snapshot.group));
    await removeUnlisted(this.dir, new Set(manifest.files.map((f) => f.filename)));
    await this.finish();
    return manifest;
  }

  private checkManifestMatches(manifest: Manifest): void {
    for (const f of manifest.files) {
      const written = this.files.get(f.filename);
      if (written === undefined)
        throw new FerryError('FERRY_ERR_NOT_FOUND', `archive ${f.filename} was not transferred`);
      if (written.csum !== f.csum || written.size !== f.size) {
        throw new FerryError(
          'FERRY_ERR_CSUM_MISMATCH',
          `archive ${f.filename}: wrong ${written.size !== f.size ? `size (${written.size} != ${f.size})` : 'checksum'}`,
        );
      }
    }
  }

  /**
   * Drops the snapshot: its directory (never finished while a writer holds it) is removed, and so is the group if
   * this writer created it and it holds nothing else.
   */
  async abort(): Promise<void> {
    if (this.done) return;
    try {
      await rm(this.dir, { recursive: true, force: true });
      if (
        this.groupCreated &&
        (await this.ds.listSnapshots(this.ns, this.snapshot.group, { manifests: false })).length === 0
      ) {
        await rm(this.ds.layout.groupPath(this.ns, this.snapshot.group), { recursive: true, force: true });
      }
    } finally {
      await this.finish();
    }
  }

  private async finish(): Promise<void> {
    this.done = true;
    for (const l of this.locks.reverse()) await l.release();
    if (this.ownsRegistration) await this.registration.release();
  }

  private assertOpen(): void {
    if (this.done)
      throw new FerryError(
        'FERRY_ERR_INTERNAL',
        `snapshot writer for ${formatSnapshot(this.snapshot)} is closed`,
      );
  }
}

async function removeTmpFiles(dir: string): Promise<void> {
  for (const name of await readdirOrEmpty(dir)) {
    if (isTmpName(name)) await unlink(join(dir, name)).catch(() => undefined);
  }
}

/** Files a snapshot directory keeps besides its manifest's archives (PBS deletes `.protected` here; Ferry does not). */
const PRESERVED = new Set<string>([MANIFEST_NAME, CLIENT_LOG_NAME, '.protected']);

async function removeUnlisted(dir: string, listed: Set<string>): Promise<void> {
  for (const name of await readdirOrEmpty(dir)) {
    if (!listed.has(name) && !PRESERVED.has(name)) await unlink(join(dir, name)).catch(() => undefined);
  }
}
