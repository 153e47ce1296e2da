import type { FastifyInstance } from 'fastify';
import { FerryError } from '../errors/index.js';
import {
  MAX_NAMESPACE_DEPTH,
  makeGroup,
  makeSnapshot,
  type Namespace,
  parseNamespace,
  parseStoreName,
  ROOT_NAMESPACE,
  type SnapshotRef,
  type StoreName,
} from '../model/index.js';
import {
  JOB_RUN_ROUTES,
  ROUTES,
  type RouteName,
  type RunnableJobKind,
  StoreParams,
  SyncJobParams,
  VerifyRunBody,
} from '../protocol/index.js';
import { authIdOf, ok, type ServerContext } from './server-context.js';

/** What a verification started through the API covers, as `ferry verify` takes it. */
export interface VerifyRun {
  ns: Namespace;
  /** Namespace levels below `ns` included (default: all). */
  maxDepth?: number;
  snapshot?: SnapshotRef;
  ignoreVerified: boolean;
  outdatedAfterDays?: number;
}

/**
 * Starts runs now, each as its own process (as `ferry serve`'s scheduler does), and answers the run's task id once
 * the run has recorded it. `ferry serve` gives one.
 */
export interface JobRunner {
  /** A configured sync, prune or verify job. */
  job(kind: RunnableJobKind, id: string): Promise<string>;
  /** Garbage collection of a datastore, as `ferry gc` runs it. */
  gc(store: StoreName): Promise<string>;
  /** Verification of a datastore, as `ferry verify` runs it. */
  verify(store: StoreName, run: VerifyRun): Promise<string>;
}

/**
 * PBS's `POST /admin/sync/{id}/run`, `/admin/prune/{id}/run` and `/admin/verify/{id}/run`: runs a configured job now,
 * with the same lock, task and job state as a scheduled run, and answers the task's id (the task routes follow it).
 * The jobs are the host's configuration: registered in the host scope (admin on `/`). A server made without a runner
 * (embedded in tests) answers that it does not run jobs.
 */
export function registerJobRoutes(app: FastifyInstance, runner: JobRunner | undefined): void {
  for (const [kind, route] of Object.entries(JOB_RUN_ROUTES) as [RunnableJobKind, RouteName][]) {
    app.post<{ Params: SyncJobParams }>(
      ROUTES[route],
      { schema: { params: SyncJobParams } },
      async (request) => ok(await needRunner(runner).job(kind, request.params.id)),
    );
  }
}

/**
 * PBS's `POST /admin/datastore/{store}/gc` and `…/verify`: garbage collection or verification of a datastore now, as
 * `ferry gc` and `ferry verify` run it (the GC lock; a verify task), answering the task's id. Each checks its own
 * role, as PBS does, before it looks at the datastore (403 before 404): GC works on the chunks of every namespace, so
 * it needs admin on the whole datastore (PBS: Datastore.Modify on `/datastore/{store}`); a verification needs admin
 * on every namespace it covers (PBS: Datastore.Verify; PBS leaves out the namespaces where the token lacks it, Ferry
 * refuses, as the run is a process of its own that knows no token). Following the task needs reader on the datastore,
 * or the verified namespace, which admin includes (task-routes.ts). A datastore whose maintenance mode
 * refuses the run is refused here (409), before any process starts.
 */
export function registerDatastoreRunRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  runner: JobRunner | undefined,
): void {
  app.post<{ Params: { store: string } }>(
    ROUTES.datastoreGc,
    { schema: { params: StoreParams } },
    async (request) => {
      const store = parseStoreName(request.params.store);
      await ctx.access.require(authIdOf(request), store, ROOT_NAMESPACE, 'admin');
      await ctx.registry.entry(store, 'write'); // not configured: 404; in maintenance: 409
      return ok(await needRunner(runner).gc(store));
    },
  );
  app.post<{ Params: { store: string }; Body: VerifyRunBody | undefined }>(
    ROUTES.datastoreVerify,
    { schema: { params: StoreParams, body: VerifyRunBody } },
    async (request) => {
      const store = parseStoreName(request.params.store);
      const b = request.body ?? {};
      const parts = [b['backup-type'], b['backup-id'], b['backup-time']];
      if (parts.some((p) => p !== undefined) && parts.some((p) => p === undefined))
        throw new FerryError(
          'FERRY_ERR_INVALID_VALUE',
          'backup-type, backup-id and backup-time name one snapshot: give all three or none',
        );
      if (b['outdated-after'] !== undefined && b['ignore-verified'] !== true)
        throw new FerryError('FERRY_ERR_INVALID_VALUE', 'outdated-after needs ignore-verified');
      if (b['max-depth'] !== undefined && b['backup-type'] !== undefined)
        throw new FerryError(
          'FERRY_ERR_INVALID_VALUE',
          'max-depth is for the namespaces below ns, not for one snapshot: give one or the other',
        );
      const run: VerifyRun = {
        ns: parseNamespace(b.ns),
        ...(b['max-depth'] !== undefined ? { maxDepth: b['max-depth'] } : {}),
        ignoreVerified: b['ignore-verified'] === true,
        ...(b['outdated-after'] !== undefined ? { outdatedAfterDays: b['outdated-after'] } : {}),
        ...(b['backup-type'] !== undefined
          ? {
              snapshot: makeSnapshot(
                makeGroup(b['backup-type'], b['backup-id'] as string),
                b['backup-time'] as number,
              ),
            }
          : {}),
      };
      const depth = run.snapshot !== undefined ? 0 : (run.maxDepth ?? MAX_NAMESPACE_DEPTH);
      await ctx.access.requireWithin(authIdOf(request), store, run.ns, depth, 'admin');
      await ctx.registry.entry(store, 'read');
      return ok(await needRunner(runner).verify(store, run));
    },
  );
}

function needRunner(runner: JobRunner | undefined): JobRunner {
  if (runner === undefined)
    throw new FerryError(
      'FERRY_ERR_INTERNAL',
      'this server does not run jobs (it was started without a job runner)',
    );
  return runner;
}
