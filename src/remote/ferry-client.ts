import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { type RemoteEntry, remoteUrl } from '../config/index.js';
import { ChunkBuffers } from '../io/index.js';
import {
  type AuthId,
  type GroupRef,
  type KeepOptions,
  type Namespace,
  namespaceComponents,
  namespaceParent,
  type PruneOutcome,
  parseStoreName,
  type SnapshotRef,
  type StoreName,
} from '../model/index.js';
import {
  CONTENT_TYPE,
  DatastoreItem,
  DatastoreStatusData,
  EmptyData,
  GroupDeleteData,
  groupFromWire,
  JOB_RUN_ROUTES,
  NamespaceDeleteData,
  namespaceFromWire,
  pruneOutcomeFromWire,
  ReaderOpenData,
  type RemoteCreateBody,
  type RemoteGroup,
  RemoteItem,
  type RemoteSnapshot,
  type RemoteUpdateBody,
  type RunnableJobKind,
  routePath,
  SpeedtestData,
  type SyncJobCreateBody,
  SyncJobItem,
  type SyncJobUpdateBody,
  snapshotFromWire,
  TaskItem,
  TaskLogData,
  type VerifyRunBody,
  VersionData,
  WriterOpenData,
} from '../protocol/index.js';
import { type ReaderPrefetch, ReaderSession } from './reader-session.js';
import { Transport, type TransportOptions, type TransportStats } from './transport.js';
import { WriterSession } from './writer-session.js';

/** How to reach the server and how to behave on the way (the transport's options, documented there). */
export type FerryClientOptions = TransportOptions & {
  /**
   * Received chunks that may wait for their consumer at once, across all of this client's reader sessions (4 MiB
   * of memory each, allocated as they are first needed and reused). Default 2: a sync thread's consumer hands each
   * chunk's memory back as soon as its bytes are written (ChunkToStore.written), so two keep its writes going.
   */
  chunkBuffers?: number;
};

export interface DatastoreInfo {
  store: StoreName;
  comment: string | undefined;
  /** Its maintenance mode, as datastore.cfg has it (`type=read-only,message=…`); undefined when none. */
  maintenance: string | undefined;
}

/** The connection part of FerryClientOptions for a remote of `remote.cfg`. */
export function remoteConnection(
  entry: RemoteEntry,
): Pick<FerryClientOptions, 'url' | 'authId' | 'secret' | 'fingerprint'> {
  return {
    url: remoteUrl(entry),
    authId: entry.authId,
    secret: entry.secret,
    ...(entry.fingerprint !== undefined ? { fingerprint: entry.fingerprint } : {}),
  };
}

const ListOf = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Array(item, { maxItems: 1_000_000 });

/**
 * The client of `ferry serve`, used by the sync engine (pull and push) and the CLI. One undici Pool per client;
 * every method maps server errors back to FerryError with the server's code, context and fields.
 */
export class FerryClient {
  readonly url: string;
  private readonly transport: Transport;
  private readonly sessions = new Set<ReaderSession | WriterSession>();
  /** Chunk memory of every reader session of this client (a sync thread runs its groups' sessions one by one). */
  private readonly chunkBuffers: ChunkBuffers;

  constructor(options: FerryClientOptions) {
    this.transport = new Transport(options);
    this.url = this.transport.url;
    this.chunkBuffers = new ChunkBuffers(options.chunkBuffers ?? 2);
  }

  async version(): Promise<VersionData> {
    return this.transport.json(
      { method: 'GET', path: routePath('version'), idempotent: true },
      VersionData,
      'version',
    );
  }

  /**
   * The download half of the link speed test: asks the server for `bytes` bytes (at most LIMITS.maxSpeedtestBytes)
   * that it makes up on the spot; resolves with the bytes received. Never retried: a retry would time two requests.
   */
  async speedtestDownload(bytes: number, options: { signal?: AbortSignal } = {}): Promise<number> {
    let received = 0;
    await this.transport.receive(
      {
        method: 'GET',
        path: routePath('speedtest'),
        query: { bytes },
        idempotent: false,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (piece) => {
        received += piece.length;
        return undefined;
      },
    );
    return received;
  }

  /** The upload half: sends `body` (at most LIMITS.maxSpeedtestBytes), which the server reads and drops. */
  async speedtestUpload(
    body: readonly Uint8Array[],
    options: { signal?: AbortSignal } = {},
  ): Promise<number> {
    const data = await this.transport.json<SpeedtestData>(
      {
        method: 'POST',
        path: routePath('speedtest'),
        body,
        contentType: CONTENT_TYPE.speedtest,
        idempotent: false,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      SpeedtestData,
      'speed test',
    );
    return data.bytes;
  }

  /** The server's remotes, without their secrets (needs the admin role on `/`). */
  async listRemotes(): Promise<RemoteItem[]> {
    return this.hostCall('GET', routePath('remotes'), ListOf(RemoteItem), 'remote list');
  }

  /** The server's sync jobs, with their sync.cfg keys (needs the admin role on `/`). */
  async listSyncJobs(): Promise<SyncJobItem[]> {
    return this.hostCall('GET', routePath('syncJobs'), ListOf(SyncJobItem), 'sync job list');
  }

  /** Adds a remote to the server's remote.cfg (admin on `/`); returns it as the list shows it, without the secret. */
  async createRemote(remote: RemoteCreateBody): Promise<RemoteItem> {
    return this.hostCall('POST', routePath('remotes'), RemoteItem, 'remote create', remote);
  }

  async readRemote(name: string): Promise<RemoteItem> {
    return this.hostCall('GET', routePath('remote', { name }), RemoteItem, 'remote');
  }

  /** Changes the settings given and unsets those in `delete` (port, fingerprint, comment). */
  async updateRemote(name: string, changes: RemoteUpdateBody): Promise<RemoteItem> {
    return this.hostCall('PUT', routePath('remote', { name }), RemoteItem, 'remote update', changes);
  }

  /** Removes a remote; refused (409 FERRY_ERR_IN_USE) while a sync job uses it. */
  async deleteRemote(name: string): Promise<void> {
    await this.hostCall('DELETE', routePath('remote', { name }), EmptyData, 'remote delete');
  }

  /** Creates a sync job on the server from its sync.cfg keys (admin on `/`). */
  async createSyncJob(job: SyncJobCreateBody): Promise<SyncJobItem> {
    return this.hostCall('POST', routePath('syncJobs'), SyncJobItem, 'sync job create', job);
  }

  async readSyncJob(id: string): Promise<SyncJobItem> {
    return this.hostCall('GET', routePath('syncJob', { id }), SyncJobItem, 'sync job');
  }

  /** Sets the keys given and removes those in `delete`; the rest of the job stays. */
  async updateSyncJob(id: string, changes: SyncJobUpdateBody): Promise<SyncJobItem> {
    return this.hostCall('PUT', routePath('syncJob', { id }), SyncJobItem, 'sync job update', changes);
  }

  async deleteSyncJob(id: string): Promise<void> {
    await this.hostCall('DELETE', routePath('syncJob', { id }), EmptyData, 'sync job delete');
  }

  /**
   * Runs a sync, prune or verify job of the server now (admin on `/`), as its scheduler would; returns the run's task
   * id once it has started (follow it with `readTask`). A run already in progress: FERRY_ERR_LOCKED.
   */
  async runJob(kind: RunnableJobKind, id: string): Promise<string> {
    return this.hostCall('POST', routePath(JOB_RUN_ROUTES[kind], { id }), Type.String(), `${kind} job run`);
  }

  /**
   * Starts garbage collection of the server's datastore `store` now (admin on that datastore), as `ferry gc` runs
   * there; returns its task id. A GC already running: FERRY_ERR_LOCKED; the datastore in maintenance:
   * FERRY_ERR_MAINTENANCE.
   */
  async startGc(store: string): Promise<string> {
    return this.hostCall('POST', routePath('datastoreGc', { store }), Type.String(), 'garbage collection');
  }

  /**
   * Starts a verification of the server's datastore `store` now (admin on every namespace it covers), as `ferry
   * verify` runs there: the namespace `ns` and those below it (to `maxDepth` levels), or one snapshot; returns its
   * task id.
   */
  async startVerify(
    store: string,
    options: {
      ns?: Namespace;
      /** Namespace levels below `ns` included (0 … 7; default: all). */
      maxDepth?: number;
      snapshot?: SnapshotRef;
      ignoreVerified?: boolean;
      outdatedAfterDays?: number;
    } = {},
  ): Promise<string> {
    const body: VerifyRunBody = {
      ...(options.ns ? { ns: options.ns } : {}),
      ...(options.maxDepth !== undefined ? { 'max-depth': options.maxDepth } : {}),
      ...(options.snapshot
        ? {
            'backup-type': options.snapshot.group.type,
            'backup-id': options.snapshot.group.id,
            'backup-time': options.snapshot.time,
          }
        : {}),
      ...(options.ignoreVerified ? { 'ignore-verified': true } : {}),
      ...(options.outdatedAfterDays !== undefined ? { 'outdated-after': options.outdatedAfterDays } : {}),
    };
    return this.hostCall(
      'POST',
      routePath('datastoreVerify', { store }),
      Type.String(),
      'verification',
      body,
    );
  }

  /** One call on the server's tasks, remotes, jobs and runs; only a read is retried. */
  private hostCall<T extends TSchema>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    schema: T,
    what: string,
    json?: object,
  ): Promise<Static<T>> {
    return this.transport.json(
      { method, path, idempotent: method === 'GET', ...(json !== undefined ? { json } : {}) },
      schema,
      what,
    );
  }

  /**
   * The server's tasks that this token may read: all of them for an admin on `/`, else those of the datastores (or
   * verified namespaces) where it has a role. A token without any role: FERRY_ERR_FORBIDDEN.
   */
  async listTasks(): Promise<TaskItem[]> {
    return this.hostCall('GET', routePath('tasks'), ListOf(TaskItem), 'task list');
  }

  /**
   * One task of the server, with its log lines (admin on `/`, or reader on the task's datastore); with `start`, only
   * the lines from that one on (`start` in the answer says where they begin).
   */
  async readTask(upid: string, options: { start?: number } = {}): Promise<TaskLogData> {
    return this.transport.json(
      { method: 'GET', path: routePath('task', { upid }), query: { start: options.start }, idempotent: true },
      TaskLogData,
      'task',
    );
  }

  /**
   * Asks a running task of the server to stop (SIGTERM to its process, as `ferry task stop` there); admin on `/`, or
   * on the task's datastore.
   */
  async stopTask(upid: string): Promise<void> {
    await this.hostCall('DELETE', routePath('task', { upid }), EmptyData, 'task stop');
  }

  async listDatastores(): Promise<DatastoreInfo[]> {
    const items = await this.transport.json<DatastoreItem[]>(
      { method: 'GET', path: routePath('datastores'), idempotent: true },
      ListOf(DatastoreItem),
      'datastore list',
    );
    return items.map((i) => ({
      store: parseStoreName(i.store),
      comment: i.comment,
      maintenance: i.maintenance,
    }));
  }

  /** What the datastore holds and what it costs on disk (role reader on the whole datastore). */
  async datastoreStatus(store: string): Promise<DatastoreStatusData> {
    return this.transport.json(
      { method: 'GET', path: routePath('status', { store }), idempotent: true },
      DatastoreStatusData,
      'datastore status',
    );
  }

  /** `parent` and the namespaces below it (at most `maxDepth` levels further), parents first. */
  async listNamespaces(
    store: string,
    options: { parent?: Namespace; maxDepth?: number } = {},
  ): Promise<Namespace[]> {
    const items = await this.transport.json<unknown[]>(
      {
        method: 'GET',
        path: routePath('namespace', { store }),
        query: { parent: options.parent || undefined, 'max-depth': options.maxDepth },
        idempotent: true,
      },
      ListOf(Type.Unknown()),
      'namespace list',
    );
    return items.map(namespaceFromWire);
  }

  /** Creates a namespace (its parent must exist). */
  async createNamespace(store: string, ns: Namespace): Promise<void> {
    const parts = namespaceComponents(ns);
    await this.transport.json(
      {
        method: 'POST',
        path: routePath('namespace', { store }),
        json: { name: parts.at(-1) ?? '', parent: namespaceParent(ns) || undefined },
        idempotent: false,
      },
      Type.Unknown(),
      'namespace create',
    );
  }

  async deleteNamespace(
    store: string,
    ns: Namespace,
    options: { deleteGroups?: boolean } = {},
  ): Promise<{ removedGroups: number; protectedKept: number }> {
    const r = await this.transport.json<NamespaceDeleteData>(
      {
        method: 'DELETE',
        path: routePath('namespace', { store }),
        query: { ns, 'delete-groups': options.deleteGroups },
        idempotent: false,
      },
      NamespaceDeleteData,
      'namespace delete',
    );
    return { removedGroups: r['removed-groups'], protectedKept: r['protected-kept'] };
  }

  async listGroups(store: string, ns: Namespace): Promise<RemoteGroup[]> {
    const items = await this.transport.json<unknown[]>(
      {
        method: 'GET',
        path: routePath('groups', { store }),
        query: { ns: ns || undefined },
        idempotent: true,
      },
      ListOf(Type.Unknown()),
      'group list',
    );
    return items.map(groupFromWire);
  }

  /** Removes a group's snapshots (protected ones are kept, and then the group too). */
  async deleteGroup(
    store: string,
    ns: Namespace,
    group: GroupRef,
  ): Promise<{ removedSnapshots: number; protectedKept: number }> {
    const r = await this.transport.json<GroupDeleteData>(
      {
        method: 'DELETE',
        path: routePath('groups', { store }),
        query: { ns: ns || undefined, 'backup-type': group.type, 'backup-id': group.id },
        idempotent: false,
      },
      GroupDeleteData,
      'group delete',
    );
    return { removedSnapshots: r['removed-snapshots'], protectedKept: r['protected-kept'] };
  }

  /** Snapshots of one group, or of every group of the namespace, in-progress ones flagged. */
  async listSnapshots(store: string, ns: Namespace, group?: GroupRef): Promise<RemoteSnapshot[]> {
    const items = await this.transport.json<unknown[]>(
      {
        method: 'GET',
        path: routePath('snapshots', { store }),
        query: { ns: ns || undefined, 'backup-type': group?.type, 'backup-id': group?.id },
        idempotent: true,
      },
      ListOf(Type.Unknown()),
      'snapshot list',
    );
    return items.map(snapshotFromWire);
  }

  async deleteSnapshot(store: string, ns: Namespace, snapshot: SnapshotRef): Promise<void> {
    await this.transport.json(
      {
        method: 'DELETE',
        path: routePath('snapshots', { store }),
        query: {
          ns: ns || undefined,
          'backup-type': snapshot.group.type,
          'backup-id': snapshot.group.id,
          'backup-time': snapshot.time,
        },
        idempotent: false,
      },
      EmptyData,
      'snapshot delete',
    );
  }

  /**
   * Applies retention to one group on the server (PBS's keep options; none keeps everything). Every snapshot comes
   * back newest first with its decision, and whether it was removed or why not.
   */
  async prune(
    store: string,
    ns: Namespace,
    group: GroupRef,
    keep: KeepOptions,
    options: { dryRun?: boolean } = {},
  ): Promise<PruneOutcome[]> {
    const items = await this.transport.json<unknown[]>(
      {
        method: 'POST',
        path: routePath('prune', { store }),
        json: {
          ...(ns ? { ns } : {}),
          'backup-type': group.type,
          'backup-id': group.id,
          ...(options.dryRun ? { 'dry-run': true } : {}),
          ...Object.fromEntries(Object.entries(keep).map(([option, n]) => [`keep-${option}`, n])),
        },
        idempotent: false,
      },
      ListOf(Type.Unknown()),
      'prune',
    );
    return items.map(pruneOutcomeFromWire);
  }

  /** Protects a snapshot on the server from removal, or lifts that. */
  async setProtected(store: string, ns: Namespace, snapshot: SnapshotRef, value: boolean): Promise<void> {
    await this.transport.json(
      {
        method: 'PUT',
        path: routePath('protected', { store }),
        json: {
          ...(ns ? { ns } : {}),
          'backup-type': snapshot.group.type,
          'backup-id': snapshot.group.id,
          'backup-time': snapshot.time,
          protected: value,
        },
        idempotent: true,
      },
      EmptyData,
      'protected update',
    );
  }

  /** Opens a reader session on a group (it must exist). */
  async openReader(
    store: string,
    ns: Namespace,
    group: GroupRef,
    prefetch?: ReaderPrefetch,
  ): Promise<ReaderSession> {
    const r = await this.transport.json<ReaderOpenData>(
      {
        method: 'POST',
        path: routePath('readerOpen', { store }),
        json: {
          ns: ns || undefined,
          'backup-type': group.type,
          'backup-id': group.id,
          ...(prefetch ? { prefetch: { 'backup-time': prefetch.time, 'file-names': prefetch.files } } : {}),
        },
        idempotent: false,
      },
      ReaderOpenData,
      'reader open',
    );
    const session: ReaderSession = new ReaderSession({
      id: r.session,
      store: parseStoreName(store),
      ns,
      group,
      transport: this.transport,
      buffers: this.chunkBuffers,
      onClose: () => this.sessions.delete(session),
      ...(prefetch && r.files
        ? {
            prefetched: {
              time: prefetch.time,
              files: r.files.filter((f) => prefetch.files.includes(f['file-name'])),
            },
          }
        : {}),
    });
    this.sessions.add(session);
    return session;
  }

  /**
   * Opens a writer session for a new snapshot: takes the group lock on the server (FERRY_ERR_LOCKED if another
   * writer has it), creates the group with `owner` (default: this token; another owner needs role admin) or checks
   * it (FERRY_ERR_OWNER_MISMATCH), and refuses a time not after the last snapshot (FERRY_ERR_TIME_NOT_INCREASING).
   */
  async openWriter(
    store: string,
    ns: Namespace,
    snapshot: SnapshotRef,
    options: { owner?: AuthId } = {},
  ): Promise<WriterSession> {
    const r = await this.transport.json<WriterOpenData>(
      {
        method: 'POST',
        path: routePath('writerOpen', { store }),
        json: {
          ns: ns || undefined,
          'backup-type': snapshot.group.type,
          'backup-id': snapshot.group.id,
          'backup-time': snapshot.time,
          owner: options.owner,
        },
        idempotent: false,
      },
      WriterOpenData,
      'writer open',
    );
    const session: WriterSession = new WriterSession({
      id: r.session,
      store: parseStoreName(store),
      ns,
      snapshot,
      previousTime: r['previous-time'] ?? undefined,
      transport: this.transport,
      onClose: () => this.sessions.delete(session),
    });
    this.sessions.add(session);
    return session;
  }

  /** HTTP requests sent (retries included) and body bytes received and sent. */
  stats(): TransportStats {
    return this.transport.stats();
  }

  /** Aborts open writer sessions and closes open readers (best effort), then closes the pool's connections. */
  async close(): Promise<void> {
    for (const s of [...this.sessions]) {
      await (s instanceof WriterSession ? s.abort() : s.close()).catch((err: unknown) => {
        this.transport.log.debug({ err, session: s.id }, 'closing a session on client close failed');
      });
    }
    await this.transport.close();
  }
}
