import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FerryError, inContext } from '../errors/index.js';
import {
  encodeManifestBlob,
  type Manifest,
  manifestSnapshotMatches,
  manifestVerifyState,
  parseManifestBlob,
  type VerifyState,
} from '../format/index.js';
import {
  acquireLock,
  createFileAtomic,
  ensureDir,
  exists,
  fsyncDir,
  type Lock,
  type LockMode,
  readdirOrEmpty,
  writeFileAtomic,
} from '../io/index.js';
import {
  type ArchiveName,
  type AuthId,
  BACKUP_TYPES,
  type Clock,
  compareGroups,
  formatBackupTime,
  formatGroup,
  formatNamespace,
  formatSnapshot,
  type GroupRef,
  isBelowNamespace,
  joinNamespace,
  MANIFEST_NAME,
  MAX_NAMESPACE_DEPTH,
  makeGroup,
  type Namespace,
  namespaceDepth,
  namespaceParent,
  parseArchiveName,
  parseAuthId,
  parseBackupTime,
  ROOT_NAMESPACE,
  SAFE_ID_RE,
  type SnapshotRef,
  SYSTEM_CLOCK,
} from '../model/index.js';
import { ChunkStore } from './chunk-store.js';
import { Layout, NOTES_FILE, OWNER_FILE, PROTECTED_FILE } from './layout.js';
import { type WriterRegistration, WriterRegistry } from './writer-registry.js';

export interface GroupInfo {
  group: GroupRef;
  owner: AuthId | undefined;
  /** Finished snapshots. */
  snapshotCount: number;
  lastSnapshot: number | undefined;
}

export interface SnapshotInfo {
  snapshot: SnapshotRef;
  /** False while a writer is working on it (or a crashed one left it): readers ignore it. */
  finished: boolean;
  protected: boolean;
  /** From the manifest, for finished snapshots. */
  manifest: Manifest | undefined;
  verifyState: VerifyState | undefined;
  /** Sum of the manifest's file sizes. */
  size: number | undefined;
}

export interface DatastoreOptions {
  clock?: Clock;
}

interface Identity {
  format: 'ferry-datastore';
  version: 1;
  id: string;
  created: number;
}

/**
 * A datastore directory: namespaces, groups, snapshots, and the chunk store with its lmdb index. Every method that
 * writes is atomic on disk; readers never see a snapshot before its manifest is in place.
 */
export class Datastore {
  readonly path: string;
  readonly layout: Layout;
  readonly chunks: ChunkStore;
  readonly clock: Clock;
  readonly writers: WriterRegistry;

  private constructor(path: string, chunks: ChunkStore, clock: Clock) {
    this.path = path;
    this.layout = chunks.layout;
    this.chunks = chunks;
    this.clock = clock;
    this.writers = new WriterRegistry(this.layout.writersDir(), clock);
  }

  /** Creates a datastore in `path`, which must be missing or an empty directory. */
  static async create(
    path: string,
    options: DatastoreOptions & { precreateChunkDirs?: boolean } = {},
  ): Promise<Datastore> {
    const clock = options.clock ?? SYSTEM_CLOCK;
    const layout = new Layout(path);
    const entries = await readdirOrEmpty(path);
    if (entries.length > 0) {
      throw new FerryError('FERRY_ERR_ALREADY_EXISTS', `directory ${path} is not empty`, {
        fields: { path },
      });
    }
    await mkdir(layout.chunksDir, { recursive: true });
    if (options.precreateChunkDirs) {
      for (let i = 0; i < 65536; i++)
        await mkdir(join(layout.chunksDir, i.toString(16).padStart(4, '0')), { recursive: true });
    }
    await mkdir(layout.indexDir, { recursive: true });
    await mkdir(layout.locksDir, { recursive: true });
    const identity: Identity = {
      format: 'ferry-datastore',
      version: 1,
      id: randomUUID(),
      created: Math.floor(clock.now() / 1000),
    };
    await writeFileAtomic(layout.identityFile, Buffer.from(`${JSON.stringify(identity, null, 2)}\n`));
    return new Datastore(path, ChunkStore.open(layout, clock), clock);
  }

  /**
   * Opens a Ferry datastore, or a PBS datastore directory (`.chunks/` without `.ferry/`): Ferry adds `.ferry/` and
   * its index starts empty until `reindex` fills it.
   */
  static async open(path: string, options: DatastoreOptions = {}): Promise<Datastore> {
    const clock = options.clock ?? SYSTEM_CLOCK;
    const layout = new Layout(path);
    const isDatastore = (await exists(layout.identityFile)) || (await exists(layout.chunksDir));
    if (!isDatastore)
      throw new FerryError('FERRY_ERR_NOT_FOUND', `no datastore at ${path}`, { fields: { path } });
    await mkdir(layout.indexDir, { recursive: true });
    await mkdir(layout.locksDir, { recursive: true });
    return new Datastore(path, ChunkStore.open(layout, clock), clock);
  }

  async close(): Promise<void> {
    await this.chunks.close();
  }

  // ---------------------------------------------------------------- locks

  async lockGroup(
    ns: Namespace,
    group: GroupRef,
    options: { waitMs?: number; mode?: LockMode } = {},
  ): Promise<Lock> {
    return acquireLock(this.layout.groupLockPath(ns, group), {
      ...options,
      what: `group ${formatGroup(group)}`,
    });
  }

  async lockSnapshot(ns: Namespace, snapshot: SnapshotRef, mode: LockMode, waitMs = 0): Promise<Lock> {
    return acquireLock(this.layout.snapshotLockPath(ns, snapshot), {
      mode,
      waitMs,
      what: `snapshot ${formatSnapshot(snapshot)}`,
    });
  }

  /** Registers a writer (backup, pull): GC will not sweep chunks touched after its start while it lives. */
  async registerWriter(): Promise<WriterRegistration> {
    return this.writers.register();
  }

  // ---------------------------------------------------------------- namespaces

  async namespaceExists(ns: Namespace): Promise<boolean> {
    return ns === ROOT_NAMESPACE || exists(this.layout.namespacePath(ns));
  }

  async requireNamespace(ns: Namespace): Promise<void> {
    if (!(await this.namespaceExists(ns))) {
      throw new FerryError('FERRY_ERR_NOT_FOUND', `namespace ${formatNamespace(ns)} does not exist`, {
        fields: { ns },
      });
    }
  }

  /** Fails with FERRY_ERR_NOT_FOUND naming the namespace or the group, whichever does not exist. */
  async requireGroup(ns: Namespace, group: GroupRef): Promise<void> {
    await this.requireNamespace(ns);
    if (!(await this.groupExists(ns, group))) {
      throw new FerryError('FERRY_ERR_NOT_FOUND', `group ${formatGroup(group)} does not exist`, {
        fields: { group: formatGroup(group) },
      });
    }
  }

  async createNamespace(ns: Namespace): Promise<void> {
    const parent = namespaceParent(ns);
    if (parent === undefined)
      throw new FerryError('FERRY_ERR_ALREADY_EXISTS', 'the root namespace always exists');
    await this.requireNamespace(parent);
    const path = this.layout.namespacePath(ns);
    try {
      await mkdir(dirname(path), { recursive: true }); // the parent's "ns" directory
      await mkdir(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new FerryError('FERRY_ERR_ALREADY_EXISTS', `namespace ${ns} exists already`, {
          fields: { ns },
        });
      }
      throw err;
    }
  }

  /** Creates `ns` and any missing parents. */
  async ensureNamespace(ns: Namespace): Promise<void> {
    await ensureDir(this.layout.namespacePath(ns));
  }

  /** `parent` and the namespaces below it, at most `maxDepth` levels further down, parents before children. */
  async listNamespaces(
    parent: Namespace = ROOT_NAMESPACE,
    maxDepth: number = MAX_NAMESPACE_DEPTH,
  ): Promise<Namespace[]> {
    await this.requireNamespace(parent);
    const out: Namespace[] = [parent];
    const walk = async (ns: Namespace, depth: number): Promise<void> => {
      if (depth >= maxDepth || namespaceDepth(ns) >= MAX_NAMESPACE_DEPTH) return;
      const names = (await readdirOrEmpty(join(this.layout.namespacePath(ns), 'ns')))
        .filter((n) => SAFE_ID_RE.test(n))
        .sort();
      for (const name of names) {
        const child = joinNamespace(ns, name);
        out.push(child);
        await walk(child, depth + 1);
      }
    };
    await walk(parent, 0);
    return out;
  }

  /**
   * Removes a namespace and those below it. Without `deleteGroups` it must hold no groups. Protected snapshots are
   * kept (and so are their groups and namespaces); the result says how many were kept.
   */
  async removeNamespace(
    ns: Namespace,
    options: { deleteGroups?: boolean } = {},
  ): Promise<{ removedGroups: number; protectedKept: number }> {
    if (ns === ROOT_NAMESPACE)
      throw new FerryError('FERRY_ERR_INVALID_VALUE', 'the root namespace cannot be removed');
    await this.requireNamespace(ns);
    const all = (await this.listNamespaces(ns)).reverse(); // children first
    let removedGroups = 0;
    let protectedKept = 0;
    for (const child of all) {
      const groups = await this.listGroups(child);
      if (groups.length > 0 && !options.deleteGroups) {
        throw new FerryError(
          'FERRY_ERR_NOT_EMPTY',
          `namespace ${child} still holds ${groups.length} group(s)`,
          { fields: { ns: child } },
        );
      }
      for (const g of groups) {
        const r = await this.removeGroup(child, g.group);
        protectedKept += r.protectedKept;
        if (r.protectedKept === 0) removedGroups++;
      }
    }
    if (protectedKept === 0) await rm(this.layout.namespacePath(ns), { recursive: true, force: true });
    else {
      // Keep the tree that still holds protected snapshots; remove the empty parts.
      for (const child of all) await removeIfEmptyTree(this.layout.namespacePath(child));
    }
    return { removedGroups, protectedKept };
  }

  // ---------------------------------------------------------------- groups

  async listGroups(ns: Namespace): Promise<GroupInfo[]> {
    await this.requireNamespace(ns);
    const groups: GroupRef[] = [];
    for (const type of BACKUP_TYPES) {
      for (const id of await readdirOrEmpty(join(this.layout.namespacePath(ns), type))) {
        if (!SAFE_ID_RE.test(id)) continue;
        groups.push(makeGroup(type, id));
      }
    }
    groups.sort(compareGroups);
    const out: GroupInfo[] = [];
    for (const group of groups) {
      const snaps = (await this.listSnapshots(ns, group, { manifests: false })).filter((s) => s.finished);
      out.push({
        group,
        owner: await this.readOwner(ns, group),
        snapshotCount: snaps.length,
        lastSnapshot: snaps.at(-1)?.snapshot.time,
      });
    }
    return out;
  }

  async groupExists(ns: Namespace, group: GroupRef): Promise<boolean> {
    return exists(this.layout.groupPath(ns, group));
  }

  async readOwner(ns: Namespace, group: GroupRef): Promise<AuthId | undefined> {
    try {
      const text = await readFile(join(this.layout.groupPath(ns, group), OWNER_FILE), 'utf8');
      return parseAuthId(text.trim());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Creates the group with `owner` if it is new, else checks the owner strictly. Call with the group lock held.
   * Returns whether the group was created.
   */
  async ensureGroup(ns: Namespace, group: GroupRef, owner: AuthId): Promise<boolean> {
    await this.requireNamespace(ns);
    const dir = this.layout.groupPath(ns, group);
    await mkdir(dir, { recursive: true });
    let created = false;
    try {
      await createFileAtomic(join(dir, OWNER_FILE), Buffer.from(`${owner}\n`));
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const current = await this.readOwner(ns, group);
    if (current !== owner) {
      throw new FerryError(
        'FERRY_ERR_OWNER_MISMATCH',
        `owner check failed (${current ?? 'none'} != ${owner})`,
        {
          fields: { owner: current ?? null, expected: owner },
        },
      );
    }
    return created;
  }

  async setOwner(ns: Namespace, group: GroupRef, owner: AuthId): Promise<void> {
    await writeFileAtomic(join(this.layout.groupPath(ns, group), OWNER_FILE), Buffer.from(`${owner}\n`));
  }

  /** Removes every unprotected snapshot of the group, and the group itself when nothing protected is left. */
  async removeGroup(
    ns: Namespace,
    group: GroupRef,
  ): Promise<{ removedSnapshots: number; protectedKept: number }> {
    return inContext(`group ${formatGroup(group)}`, async () => {
      const lock = await this.lockGroup(ns, group);
      try {
        let removedSnapshots = 0;
        let protectedKept = 0;
        for (const s of await this.listSnapshots(ns, group, { manifests: false })) {
          if (!s.protected && (await this.removeSnapshotLocked(ns, s.snapshot, 'keep'))) removedSnapshots++;
          else protectedKept++;
        }
        if (protectedKept === 0) await rm(this.layout.groupPath(ns, group), { recursive: true, force: true });
        return { removedSnapshots, protectedKept };
      } finally {
        await lock.release();
      }
    });
  }

  // ---------------------------------------------------------------- snapshots

  /** Snapshots of a group in time order, including unfinished ones (flagged). */
  async listSnapshots(
    ns: Namespace,
    group: GroupRef,
    options: { manifests?: boolean } = {},
  ): Promise<SnapshotInfo[]> {
    const dir = this.layout.groupPath(ns, group);
    const times: number[] = [];
    for (const name of await readdirOrEmpty(dir)) {
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(name)) continue;
      try {
        times.push(parseBackupTime(name));
      } catch {
        // not a snapshot directory
      }
    }
    times.sort((a, b) => a - b);
    const out: SnapshotInfo[] = [];
    for (const time of times) {
      const snapshot = { group, time };
      const base = this.layout.snapshotPath(ns, snapshot);
      const finished = await exists(join(base, MANIFEST_NAME));
      const isProtected = await exists(join(base, PROTECTED_FILE));
      let manifest: Manifest | undefined;
      if (finished && options.manifests !== false) {
        manifest = await this.readManifest(ns, snapshot).catch(() => undefined);
      }
      out.push({
        snapshot,
        finished,
        protected: isProtected,
        manifest,
        verifyState: manifest ? manifestVerifyState(manifest) : undefined,
        size: manifest ? manifest.files.reduce((sum, f) => sum + f.size, 0) : undefined,
      });
    }
    return out;
  }

  async lastFinishedSnapshot(ns: Namespace, group: GroupRef): Promise<SnapshotRef | undefined> {
    const snaps = await this.listSnapshots(ns, group, { manifests: false });
    return snaps.filter((s) => s.finished).at(-1)?.snapshot;
  }

  async snapshotFinished(ns: Namespace, snapshot: SnapshotRef): Promise<boolean> {
    return exists(this.layout.manifestPath(ns, snapshot));
  }

  async readManifestBytes(ns: Namespace, snapshot: SnapshotRef): Promise<Buffer> {
    try {
      return await readFile(this.layout.manifestPath(ns, snapshot));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new FerryError(
          'FERRY_ERR_NOT_FOUND',
          `snapshot ${formatSnapshot(snapshot)} does not exist (or is unfinished)`,
          {
            fields: { snapshot: formatSnapshot(snapshot) },
          },
        );
      }
      throw err;
    }
  }

  async readManifest(ns: Namespace, snapshot: SnapshotRef): Promise<Manifest> {
    const bytes = await this.readManifestBytes(ns, snapshot);
    return inContext(`file ${MANIFEST_NAME}`, async () => {
      const manifest = parseManifestBlob(bytes);
      if (!manifestSnapshotMatches(manifest, snapshot)) {
        throw new FerryError(
          'FERRY_ERR_BAD_FORMAT',
          `manifest describes ${manifest.backupType}/${manifest.backupId}/${formatBackupTime(manifest.backupTime)}`,
        );
      }
      return manifest;
    });
  }

  /** Reads an archive file of a finished snapshot. */
  async readArchive(ns: Namespace, snapshot: SnapshotRef, name: ArchiveName): Promise<Buffer> {
    try {
      return await readFile(this.layout.archivePath(ns, snapshot, parseArchiveName(name)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new FerryError('FERRY_ERR_NOT_FOUND', `archive ${name} does not exist`, {
          fields: { archive: name },
        });
      }
      throw err;
    }
  }

  /** Changes only the manifest's unprotected part (verify state, notes), atomically, under the manifest lock. */
  async updateManifestUnprotected(
    ns: Namespace,
    snapshot: SnapshotRef,
    patch: Record<string, unknown>,
  ): Promise<Manifest> {
    const lock = await acquireLock(this.layout.manifestLockPath(ns, snapshot), {
      waitMs: 5000,
      what: `manifest of ${formatSnapshot(snapshot)}`,
    });
    try {
      const manifest = await this.readManifest(ns, snapshot);
      const updated: Manifest = { ...manifest, unprotected: { ...manifest.unprotected, ...patch } };
      await writeFileAtomic(this.layout.manifestPath(ns, snapshot), encodeManifestBlob(updated));
      return updated;
    } finally {
      await lock.release();
    }
  }

  /**
   * Protects a finished snapshot from removal (prune, forget, remove-vanished, group and namespace removal), or lifts
   * that. Under the snapshot lock (shared), so it cannot interleave with a removal.
   */
  async setProtected(ns: Namespace, snapshot: SnapshotRef, value: boolean): Promise<void> {
    if (!(await this.snapshotFinished(ns, snapshot))) await this.readManifestBytes(ns, snapshot);
    const lock = await this.lockSnapshot(ns, snapshot, 'shared');
    try {
      const dir = this.layout.snapshotPath(ns, snapshot);
      if (value) await writeFile(join(dir, PROTECTED_FILE), '');
      else await unlink(join(dir, PROTECTED_FILE)).catch(() => undefined);
      await fsyncDir(dir);
    } finally {
      await lock.release();
    }
  }

  async isProtected(ns: Namespace, snapshot: SnapshotRef): Promise<boolean> {
    return exists(join(this.layout.snapshotPath(ns, snapshot), PROTECTED_FILE));
  }

  async readNotes(ns: Namespace, group: GroupRef): Promise<string | undefined> {
    return readFile(join(this.layout.groupPath(ns, group), NOTES_FILE), 'utf8').catch(() => undefined);
  }

  /** Removes a snapshot (not a protected one). Takes the snapshot lock exclusively; fails if a reader holds it. */
  async removeSnapshot(ns: Namespace, snapshot: SnapshotRef): Promise<void> {
    if (!(await exists(this.layout.snapshotPath(ns, snapshot)))) {
      throw new FerryError('FERRY_ERR_NOT_FOUND', `snapshot ${formatSnapshot(snapshot)} does not exist`);
    }
    await this.removeSnapshotLocked(ns, snapshot, 'refuse');
  }

  /**
   * Removes a snapshot under its lock, unless it is protected: then `refuse` throws FERRY_ERR_PROTECTED and `keep`
   * returns false. Protection is looked at under the lock, which setProtected takes too, so a snapshot protected a
   * moment ago is never removed.
   */
  private async removeSnapshotLocked(
    ns: Namespace,
    snapshot: SnapshotRef,
    ifProtected: 'refuse' | 'keep',
  ): Promise<boolean> {
    const lock = await this.lockSnapshot(ns, snapshot, 'exclusive');
    try {
      if (await this.isProtected(ns, snapshot)) {
        if (ifProtected === 'keep') return false;
        throw new FerryError('FERRY_ERR_PROTECTED', `snapshot ${formatSnapshot(snapshot)} is protected`);
      }
      const dir = this.layout.snapshotPath(ns, snapshot);
      // The manifest goes first: from that instant readers see no snapshot, whatever a crash leaves behind.
      await unlink(join(dir, MANIFEST_NAME)).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      return true;
    } finally {
      await lock.release();
    }
  }

  /** Every namespace and group below `anchor`, at most `maxDepth` levels down (for verify, prune and GC walks). */
  async *walkGroups(
    anchor: Namespace = ROOT_NAMESPACE,
    maxDepth: number = MAX_NAMESPACE_DEPTH,
  ): AsyncGenerator<{ ns: Namespace; group: GroupRef }> {
    for (const ns of await this.listNamespaces(anchor, maxDepth)) {
      if (!isBelowNamespace(ns, anchor)) continue;
      for (const g of await this.listGroups(ns)) yield { ns, group: g.group };
    }
  }

  /** Size and mtime of a file in a snapshot dir, or undefined. */
  async statArchive(
    ns: Namespace,
    snapshot: SnapshotRef,
    name: ArchiveName,
  ): Promise<{ size: number } | undefined> {
    try {
      const s = await stat(this.layout.archivePath(ns, snapshot, name));
      return { size: s.size };
    } catch {
      return undefined;
    }
  }

  /** Names of files in a snapshot directory. */
  async listSnapshotFiles(ns: Namespace, snapshot: SnapshotRef): Promise<string[]> {
    return readdirOrEmpty(this.layout.snapshotPath(ns, snapshot));
  }
}

async function removeIfEmptyTree(dir: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return true;
  }
  let empty = true;
  for (const e of entries) {
    const path = join(dir, e);
    const s = await stat(path).catch(() => undefined);
    if (s?.isDirectory() && (await removeIfEmptyTree(path))) continue;
    empty = false;
  }
  if (empty) await rm(dir, { recursive: true, force: true });
  return empty;
}
