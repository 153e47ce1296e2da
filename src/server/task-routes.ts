import type { FastifyInstance } from 'fastify';
import { listTasks, readTask, stopTask, type TaskRecord } from '../config/index.js';
import { ROUTES, type TaskItem, type TaskLogData, TaskLogQuery, UpidParams } from '../protocol/index.js';
import { authIdOf, ok, type ServerContext } from './server-context.js';

/**
 * The tasks of the server's `$FERRY_HOME` (sync jobs the CLI runs there, e.g. from cron; GCs and verifications asked
 * for through the API) as API resources, for a UI or a script watching them: the list, one task with its log, and
 * stop. Paths as PBS's (`/nodes/{node}/tasks`), with the one node `localhost`. An admin on `/` reads and stops every
 * task; a task of a datastore (gc, prune, verify) is also read with role reader and stopped with admin on that
 * datastore (on the namespace, for a verification of one), so a datastore's admin follows the GC and verification it
 * started (PBS lets a datastore's privileges read the tasks of its jobs too); the rest is the host's. Each route
 * decides from the task's id before it reads the task (403 before 404); the list shows each token what it may read.
 */
export function registerTaskRoutes(app: FastifyInstance, ctx: ServerContext, home: string): void {
  app.get(ROUTES.tasks, async (request) => {
    const mayRead = await ctx.access.taskReader(authIdOf(request));
    return ok((await listTasks(home)).filter((r) => mayRead(r.id)).map(taskToWire));
  });

  app.get<{ Params: UpidParams; Querystring: TaskLogQuery }>(
    ROUTES.task,
    { schema: { params: UpidParams, querystring: TaskLogQuery } },
    async (request) => {
      await ctx.access.requireTask(authIdOf(request), request.params.upid, 'reader');
      const { record, log } = await readTask(home, request.params.upid);
      const start = request.query.start ?? 0;
      const lines = log === '' ? [] : log.trimEnd().split('\n');
      const data: TaskLogData = { task: taskToWire(record), log: lines.slice(start), start };
      return ok(data);
    },
  );

  app.delete<{ Params: UpidParams }>(ROUTES.task, { schema: { params: UpidParams } }, async (request) => {
    await ctx.access.requireTask(authIdOf(request), request.params.upid, 'admin');
    await stopTask(home, request.params.upid);
    return ok(null);
  });
}

function taskToWire(r: TaskRecord): TaskItem {
  return {
    id: r.id,
    type: r.type,
    subject: r.subject,
    pid: r.pid,
    ...(r.pstart !== undefined ? { pstart: r.pstart } : {}),
    started: r.started,
    ...(r.ended !== undefined ? { ended: r.ended } : {}),
    state: r.state,
    ...(r.exitStatus !== undefined ? { 'exit-status': r.exitStatus } : {}),
    ...(r.message !== undefined ? { message: r.message } : {}),
  };
}
