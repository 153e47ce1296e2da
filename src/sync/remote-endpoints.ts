import { isFerryError } from '../errors/index.js';
import { type CryptMode, parseManifestBlob } from '../format/index.js';
import {
  type ArchiveName,
  type AuthId,
  CLIENT_LOG_NAME,
  type Digest,
  formatGroup,
  type GroupRef,
  isBelowNamespace,
  MANIFEST_NAME,
  MAX_NAMESPACE_DEPTH,
  type Namespace,
  namespaceComponents,
  namespaceDepth,
  parseNamespace,
} from '../model/index.js';
import type { RemoteSnapshot } from '../protocol/index.js';
import type { FerryClient, ReaderPrefetch, ReaderSession, WriterSession } from '../remote/index.js';
import type {
  ChunkConsumer,
  ChunkToStore,
  GroupListing,
  SnapshotListing,
  SourceGroupReader,
  SyncEndpoint,
  SyncSource,
  SyncTarget,
  TargetGroupWriter,
  TargetSnapshotWriter,
} from './sync-types.js';

/** A 404 from the server (missing namespace or group) reads as "nothing there" when listing. */
async function orEmpty<T>(promise: Promise<T[]>): Promise<T[]> {
  try {
    return await promise;
  } catch (err) {
    if (isFerryError(err, 'FERRY_ERR_NOT_FOUND')) return [];
    throw err;
  }
}

function toListing(s: RemoteSnapshot): SnapshotListing {
  const archives = s.files.filter((f) => f.filename !== CLIENT_LOG_NAME && f.filename !== MANIFEST_NAME);
  return {
    time: s.snapshot.time,
    finished: !s.inProgress,
    protected: s.protected,
    verifyState: s.verifyState,
    protectedCsum: s.protectedCsum,
    encrypted: archives.length > 0 && archives.every((f) => f.cryptMode === 'encrypt'),
    archives: archives.map((f) => f.filename),
  };
}

/** Listing a datastore on a Ferry server, shared by the remote source and target. */
class RemoteEndpoint implements SyncEndpoint {
  readonly label: string;
  protected readonly client: FerryClient;
  protected readonly store: string;

  constructor(client: FerryClient, store: string, label: string) {
    this.client = client;
    this.store = store;
    this.label = label;
  }

  async listNamespaces(anchor: Namespace, maxDepth: number | undefined): Promise<Namespace[]> {
    const depth = maxDepth ?? MAX_NAMESPACE_DEPTH - namespaceDepth(anchor);
    const listed = await orEmpty(this.client.listNamespaces(this.store, { parent: anchor, maxDepth: depth }));
    const below = listed.filter((ns) => isBelowNamespace(ns, anchor));
    if (below.length > 0 && !below.includes(anchor)) below.unshift(anchor);
    return below.sort((a, b) => namespaceDepth(a) - namespaceDepth(b) || (a < b ? -1 : a > b ? 1 : 0));
  }

  async listGroups(ns: Namespace): Promise<GroupListing[]> {
    return (await orEmpty(this.client.listGroups(this.store, ns))).map((g) => ({
      group: g.group,
      owner: g.owner,
    }));
  }

  async listSnapshots(ns: Namespace, group: GroupRef): Promise<SnapshotListing[]> {
    return (await orEmpty(this.client.listSnapshots(this.store, ns, group))).map(toListing);
  }

  async close(): Promise<void> {
    // The client belongs to whoever made it.
  }
}

/** A datastore on a Ferry server as the source of a pull. */
export class RemoteSource extends RemoteEndpoint implements SyncSource {
  async openGroup(ns: Namespace, group: GroupRef, prefetch?: ReaderPrefetch): Promise<SourceGroupReader> {
    return new RemoteGroupReader(await this.client.openReader(this.store, ns, group, prefetch));
  }

  async listAllSnapshots(ns: Namespace): Promise<Map<string, SnapshotListing[]>> {
    const byGroup = new Map<string, SnapshotListing[]>();
    for (const s of await orEmpty(this.client.listSnapshots(this.store, ns))) {
      const key = formatGroup(s.snapshot.group);
      const listed = byGroup.get(key) ?? [];
      if (listed.length === 0) byGroup.set(key, listed);
      listed.push(toListing(s));
    }
    for (const listed of byGroup.values()) listed.sort((a, b) => a.time - b.time);
    return byGroup;
  }
}

class RemoteGroupReader implements SourceGroupReader {
  private readonly session: ReaderSession;

  constructor(session: ReaderSession) {
    this.session = session;
  }

  async readManifest(time: number): Promise<Buffer | undefined> {
    try {
      return await this.session.download(time, MANIFEST_NAME);
    } catch (err) {
      if (isFerryError(err, 'FERRY_ERR_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  async readArchive(time: number, name: ArchiveName): Promise<Buffer> {
    return this.session.download(time, name);
  }

  async fetchChunks(
    digests: readonly Digest[],
    onChunk: ChunkConsumer,
    sizes?: readonly number[],
    signal?: AbortSignal,
  ): Promise<void> {
    await this.session.fetchChunks(digests, onChunk, {
      ...(sizes ? { sizes } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  async proveChunks(nonce: Buffer, digests: readonly Digest[]): Promise<(Buffer | undefined)[]> {
    return this.session.proveChunks(nonce, digests);
  }

  /**
   * Sends the session's close without waiting for the answer: the group's work is done, the request finishes on
   * the thread's connection pool (closing the client waits for it), and a close that fails only leaves the session
   * to the server's idle sweep. Over a long link this saves each group a round trip.
   */
  async close(): Promise<void> {
    void this.session.close().catch(() => undefined);
  }
}

/** A datastore on a Ferry server as the target of a push: one writer session per snapshot. */

export class RemoteTarget extends RemoteEndpoint implements SyncTarget {
  /** Creates the namespace level by level (the server creates one level at a time). */
  async ensureNamespace(ns: Namespace): Promise<void> {
    const parts = namespaceComponents(ns);
    for (let i = 1; i <= parts.length; i++) {
      try {
        await this.client.createNamespace(this.store, parseNamespace(parts.slice(0, i).join('/')));
      } catch (err) {
        if (!isFerryError(err, 'FERRY_ERR_ALREADY_EXISTS')) throw err;
      }
    }
  }

  async removeNamespace(ns: Namespace): Promise<{ protectedKept: number }> {
    const r = await this.client.deleteNamespace(this.store, ns, { deleteGroups: true });
    return { protectedKept: r.protectedKept };
  }

  async removeGroup(
    ns: Namespace,
    group: GroupRef,
  ): Promise<{ removedSnapshots: number; protectedKept: number }> {
    return this.client.deleteGroup(this.store, ns, group);
  }

  /**
   * The server takes the group lock and checks the owner when a writer session opens (for each snapshot); new groups
   * belong to the remote's auth id, as in PBS.
   */
  async openGroup(
    ns: Namespace,
    group: GroupRef,
    _owner: AuthId,
    _jobToken: number,
  ): Promise<TargetGroupWriter> {
    return new RemoteGroupWriter(this.client, this.store, ns, group, this);
  }
}

class RemoteGroupWriter implements TargetGroupWriter {
  private readonly client: FerryClient;
  private readonly store: string;
  private readonly ns: Namespace;
  private readonly group: GroupRef;
  private readonly endpoint: RemoteTarget;

  constructor(client: FerryClient, store: string, ns: Namespace, group: GroupRef, endpoint: RemoteTarget) {
    this.client = client;
    this.store = store;
    this.ns = ns;
    this.group = group;
    this.endpoint = endpoint;
  }

  async listSnapshots(): Promise<SnapshotListing[]> {
    return this.endpoint.listSnapshots(this.ns, this.group);
  }

  async removeSnapshot(time: number): Promise<void> {
    await this.client.deleteSnapshot(this.store, this.ns, { group: this.group, time });
  }

  async beginSnapshot(time: number): Promise<TargetSnapshotWriter> {
    return new RemoteSnapshotWriter(
      await this.client.openWriter(this.store, this.ns, { group: this.group, time }),
    );
  }

  async close(): Promise<void> {}
}

class RemoteSnapshotWriter implements TargetSnapshotWriter {
  /** Proving costs the local side a read and a decode per chunk: only for chunks this job moved already. */
  readonly proveUpFront = false;
  readonly storeBatchBytes = 8 * 1024 * 1024;
  private readonly session: WriterSession;
  private previous: Promise<void> | undefined;

  constructor(session: WriterSession) {
    this.session = session;
  }

  /** Downloads the previous snapshot's indexes once, which makes their chunks referenceable in this session. */
  private registerPrevious(): Promise<void> {
    this.previous ??= (async () => {
      if (this.session.previousTime === undefined) return;
      try {
        const manifest = parseManifestBlob(await this.session.downloadPrevious(MANIFEST_NAME));
        for (const f of manifest.files) {
          if (!f.filename.endsWith('.blob')) await this.session.downloadPrevious(f.filename);
        }
      } catch {
        // Without the previous snapshot nothing is known up front; proofs and uploads cover the rest.
      }
    })();
    return this.previous;
  }

  async usable(digests: readonly Digest[]): Promise<Set<Digest>> {
    await this.registerPrevious();
    const known = await this.session.known(digests);
    return new Set(digests.filter((_, i) => known[i]));
  }

  async challenge(digests: readonly Digest[]): Promise<{ nonce: Buffer; digests: Digest[] } | undefined> {
    if (digests.length === 0) return undefined;
    return { nonce: await this.session.challenge(), digests: [...digests] };
  }

  async acceptProofs(
    nonce: Buffer,
    digests: readonly Digest[],
    proofs: readonly (Buffer | undefined)[],
  ): Promise<Set<Digest>> {
    const out = new Set<Digest>();
    const candidates = digests.filter((_, i) => proofs[i] !== undefined);
    if (candidates.length === 0) return out;
    const accepted = await this.session.acceptProofs(nonce, digests, proofs);
    digests.forEach((d, i) => {
      if (accepted[i]) out.add(d);
    });
    return out;
  }

  async storeChunks(chunks: readonly ChunkToStore[], signal?: AbortSignal): Promise<void> {
    await this.session.uploadChunks(
      chunks.map((c) => ({ digest: c.digest, blob: c.blob })),
      signal ? { signal } : {},
    );
  }

  async writeArchive(name: ArchiveName, bytes: Buffer, cryptMode: CryptMode): Promise<void> {
    await this.session.uploadFile(name, bytes, { cryptMode });
  }

  async commit(manifestBlob: Buffer): Promise<void> {
    await this.session.finish(manifestBlob);
  }

  async abort(): Promise<void> {
    await this.session.abort();
  }
}
