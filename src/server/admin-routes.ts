import type { FastifyInstance, FastifyRequest } from 'fastify';
import { roleAllows } from '../config/index.js';
import { FerryError } from '../errors/index.js';
import { protectedCsum } from '../format/index.js';
import { FERRY_VERSION, isTmpName } from '../io/index.js';
import {
  type ArchiveName,
  checkKeepOptions,
  type GroupRef,
  joinNamespace,
  MAX_NAMESPACE_DEPTH,
  makeGroup,
  makeSnapshot,
  type Namespace,
  parseArchiveName,
  parseNamespace,
  parseStoreName,
  ROOT_NAMESPACE,
  type SnapshotRef,
} from '../model/index.js';
import {
  type DatastoreItem,
  type GroupDeleteData,
  GroupQuery,
  groupToWire,
  NamespaceCreateBody,
  type NamespaceDeleteData,
  NamespaceDeleteQuery,
  NamespaceListQuery,
  NsQuery,
  namespaceToWire,
  ProtectedBody,
  PruneBody,
  pruneOutcomeToWire,
  type RemoteSnapshot,
  ROUTES,
  SnapshotQuery,
  SnapshotsQuery,
  StoreParams,
  snapshotToWire,
  statusToWire,
  type VersionData,
} from '../protocol/index.js';
import { type Datastore, datastoreStatus, pruneGroup, type SnapshotInfo } from '../store/index.js';
import { authIdOf, leaseFor, ok, openStoreFor, type ServerContext } from './server-context.js';

interface StoreParamsT {
  store: string;
}

/** Version, datastores, namespaces, groups and snapshots (PBS's `admin/datastore/{store}/…` names). */
export function registerAdminRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(ROUTES.version, async () => {
    const data: VersionData = {
      version: FERRY_VERSION,
      release: FERRY_VERSION.split('.').slice(-1)[0] ?? '0',
      repoid: 'ferry',
      product: 'ferry',
      'api-version': 1,
    };
    return ok(data);
  });

  app.get(ROUTES.datastores, async (request) => {
    const authId = authIdOf(request);
    const out: DatastoreItem[] = [];
    for (const entry of await ctx.registry.list()) {
      if (!(await ctx.access.canSee(authId, entry.name, '' as Namespace))) continue;
      const maintenance = entry['maintenance-mode'];
      out.push({
        store: entry.name,
        ...(entry.comment !== undefined ? { comment: entry.comment } : {}),
        ...(maintenance !== undefined ? { maintenance } : {}),
      });
    }
    return ok(out);
  });

  app.get<{ Params: StoreParamsT; Querystring: NamespaceListQuery }>(
    ROUTES.namespace,
    { schema: { params: StoreParams, querystring: NamespaceListQuery } },
    async (request) => {
      const authId = authIdOf(request);
      const store = parseStoreName(request.params.store);
      const parent = parseNamespace(request.query.parent);
      if (!(await ctx.access.canSee(authId, store, parent))) {
        await ctx.access.require(authId, store, parent, 'reader'); // throws the 403
      }
      const { ds } = await leaseFor(ctx, request, store, 'read');
      const all = await ds.listNamespaces(parent, request.query['max-depth'] ?? MAX_NAMESPACE_DEPTH);
      const visible: Namespace[] = [];
      for (const ns of all) if (await ctx.access.canSee(authId, store, ns)) visible.push(ns);
      return ok(visible.map(namespaceToWire));
    },
  );

  app.post<{ Params: StoreParamsT; Body: NamespaceCreateBody }>(
    ROUTES.namespace,
    { schema: { params: StoreParams, body: NamespaceCreateBody } },
    async (request) => {
      const ns = joinNamespace(parseNamespace(request.body.parent), request.body.name);
      const { ds } = await openStoreFor(ctx, request, request.params.store, ns, 'backup');
      await ds.createNamespace(ns);
      return ok(namespaceToWire(ns));
    },
  );

  app.delete<{ Params: StoreParamsT; Querystring: NamespaceDeleteQuery }>(
    ROUTES.namespace,
    { schema: { params: StoreParams, querystring: NamespaceDeleteQuery } },
    async (request) => {
      const ns = parseNamespace(request.query.ns);
      const { ds } = await openStoreFor(ctx, request, request.params.store, ns, 'admin');
      const r = await ds.removeNamespace(ns, { deleteGroups: request.query['delete-groups'] === true });
      const data: NamespaceDeleteData = {
        'removed-groups': r.removedGroups,
        'protected-kept': r.protectedKept,
      };
      return ok(data);
    },
  );

  app.get<{ Params: StoreParamsT; Querystring: NsQuery }>(
    ROUTES.groups,
    { schema: { params: StoreParams, querystring: NsQuery } },
    async (request) => {
      const ns = parseNamespace(request.query.ns);
      const { ds } = await openStoreFor(ctx, request, request.params.store, ns, 'reader');
      await ds.requireNamespace(ns);
      return ok((await ds.listGroups(ns)).map(groupToWire));
    },
  );

  app.delete<{ Params: StoreParamsT; Querystring: GroupQuery }>(
    ROUTES.groups,
    { schema: { params: StoreParams, querystring: GroupQuery } },
    async (request) => {
      const ns = parseNamespace(request.query.ns);
      const group = makeGroup(request.query['backup-type'], request.query['backup-id']);
      const ds = await openForDelete(ctx, request, ns, group);
      const r = await ds.removeGroup(ns, group);
      const data: GroupDeleteData = {
        'removed-snapshots': r.removedSnapshots,
        'protected-kept': r.protectedKept,
      };
      return ok(data);
    },
  );

  // Counts every namespace's groups and snapshots, so it needs role reader on the whole datastore.
  app.get<{ Params: StoreParamsT }>(ROUTES.status, { schema: { params: StoreParams } }, async (request) => {
    const { ds } = await openStoreFor(ctx, request, request.params.store, ROOT_NAMESPACE, 'reader');
    return ok(statusToWire(await datastoreStatus(ds)));
  });

  app.get<{ Params: StoreParamsT; Querystring: SnapshotsQuery }>(
    ROUTES.snapshots,
    { schema: { params: StoreParams, querystring: SnapshotsQuery } },
    async (request) => {
      const q = request.query;
      const ns = parseNamespace(q.ns);
      const { ds } = await openStoreFor(ctx, request, request.params.store, ns, 'reader');
      await ds.requireNamespace(ns);
      let groups: GroupRef[];
      if (q['backup-type'] !== undefined || q['backup-id'] !== undefined) {
        const group = makeGroup(q['backup-type'], q['backup-id']);
        await ds.requireGroup(ns, group);
        groups = [group];
      } else {
        groups = (await ds.listGroups(ns)).map((g) => g.group);
      }
      const out = [];
      for (const group of groups) {
        for (const info of await ds.listSnapshots(ns, group))
          out.push(snapshotToWire(await describeSnapshot(ds, ns, info)));
      }
      return ok(out);
    },
  );

  app.delete<{ Params: StoreParamsT; Querystring: SnapshotQuery }>(
    ROUTES.snapshots,
    { schema: { params: StoreParams, querystring: SnapshotQuery } },
    async (request) => {
      const { ds, ns, snapshot } = await snapshotForChange(ctx, request, request.query);
      await ds.removeSnapshot(ns, snapshot);
      return ok(null);
    },
  );

  app.post<{ Params: StoreParamsT; Body: PruneBody }>(
    ROUTES.prune,
    { schema: { params: StoreParams, body: PruneBody } },
    async (request) => {
      const b = request.body;
      const ns = parseNamespace(b.ns);
      const group = makeGroup(b['backup-type'], b['backup-id']);
      const ds = await openForDelete(ctx, request, ns, group);
      const keep = checkKeepOptions({
        last: b['keep-last'],
        hourly: b['keep-hourly'],
        daily: b['keep-daily'],
        weekly: b['keep-weekly'],
        monthly: b['keep-monthly'],
        yearly: b['keep-yearly'],
      });
      const outcomes = await pruneGroup(ds, ns, group, { keep, dryRun: b['dry-run'] === true });
      return ok(outcomes.map(pruneOutcomeToWire));
    },
  );

  app.put<{ Params: StoreParamsT; Body: ProtectedBody }>(
    ROUTES.protected,
    { schema: { params: StoreParams, body: ProtectedBody } },
    async (request) => {
      const { ds, ns, snapshot } = await snapshotForChange(ctx, request, request.body);
      await ds.setProtected(ns, snapshot, request.body.protected);
      return ok(null);
    },
  );
}

/**
 * The datastore, for deleting (or pruning, or protecting) in `group`: the token needs role admin on the namespace, or
 * role backup and to own the group (as PBS lets a backup user prune its own groups).
 */
async function openForDelete(
  ctx: ServerContext,
  request: FastifyRequest<{ Params: StoreParamsT }>,
  ns: Namespace,
  group: GroupRef,
): Promise<Datastore> {
  const { ds, authId, store } = await openStoreFor(ctx, request, request.params.store, ns, 'backup');
  await ds.requireGroup(ns, group);
  const isAdmin = roleAllows(await ctx.access.roleAt(authId, store, ns), 'admin');
  if (!isAdmin && (await ds.readOwner(ns, group)) !== authId) {
    throw new FerryError(
      'FERRY_ERR_FORBIDDEN',
      `${authId} may delete only in groups it owns (or needs role admin)`,
    );
  }
  return ds;
}

/** The snapshot a request names, and its datastore opened for changing it (the roles of openForDelete). */
async function snapshotForChange(
  ctx: ServerContext,
  request: FastifyRequest<{ Params: StoreParamsT }>,
  f: Pick<SnapshotQuery, 'ns' | 'backup-type' | 'backup-id' | 'backup-time'>,
): Promise<{ ds: Datastore; ns: Namespace; snapshot: SnapshotRef }> {
  const ns = parseNamespace(f.ns);
  const snapshot = makeSnapshot(makeGroup(f['backup-type'], f['backup-id']), f['backup-time']);
  return { ds: await openForDelete(ctx, request, ns, snapshot.group), ns, snapshot };
}

/** A snapshot as the API lists it: files from the manifest, or (in progress) the archives written so far. */
async function describeSnapshot(ds: Datastore, ns: Namespace, info: SnapshotInfo): Promise<RemoteSnapshot> {
  let files: RemoteSnapshot['files'];
  if (info.manifest !== undefined) {
    files = info.manifest.files.map((f) => ({ filename: f.filename, size: f.size, cryptMode: f.cryptMode }));
  } else {
    const names: ArchiveName[] = [];
    for (const name of await ds.listSnapshotFiles(ns, info.snapshot)) {
      if (isTmpName(name)) continue;
      try {
        names.push(parseArchiveName(name));
      } catch {
        // not an archive (a marker file, a leftover)
      }
    }
    files = names.sort().map((filename) => ({ filename, size: undefined, cryptMode: undefined }));
  }
  return {
    snapshot: info.snapshot,
    inProgress: !info.finished,
    protected: info.protected,
    verifyState: info.verifyState,
    protectedCsum: info.manifest === undefined ? undefined : protectedCsum(info.manifest),
    size: info.finished ? info.size : undefined,
    files,
  };
}
