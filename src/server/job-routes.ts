import type { FastifyInstance } from 'fastify';
import { FerryError } from '../errors/index.js';
import {
  JOB_RUN_ROUTES,
  ROUTES,
  type RouteName,
  type RunnableJobKind,
  SyncJobParams,
} from '../protocol/index.js';
import { ok } from './server-context.js';

/** Starts a run of a configured job now; answers its task id once the run has recorded it. */
export type RunJob = (kind: RunnableJobKind, id: string) => Promise<string>;

/**
 * PBS's `POST /admin/sync/{id}/run`, `/admin/prune/{id}/run` and `/admin/verify/{id}/run`: the server runs the job as
 * its own process, as its scheduler would (the same lock, task and job state), and answers the task's id; the task
 * routes follow it. Registered in the host scope (admin on `/`). `run` is what `ferry serve` gives; a server made
 * without it (embedded in tests) answers that it does not run jobs.
 */
export function registerJobRoutes(app: FastifyInstance, run: RunJob | undefined): void {
  for (const [kind, route] of Object.entries(JOB_RUN_ROUTES) as [RunnableJobKind, RouteName][]) {
    app.post<{ Params: SyncJobParams }>(
      ROUTES[route],
      { schema: { params: SyncJobParams } },
      async (request) => {
        if (run === undefined)
          throw new FerryError(
            'FERRY_ERR_INTERNAL',
            'this server does not run jobs (it was started without a job runner)',
          );
        return ok(await run(kind, request.params.id));
      },
    );
  }
}
