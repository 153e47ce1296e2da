import type { FastifyInstance } from 'fastify';
import { listTasks, readTaskLogLines, readTaskRecord, stopTask, type TaskRecord } from '../config/index.js';
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
/** The most log a task read answers at once (in whole lines, at least one): a long log is read in several answers. */
export const TASK_LOG_ANSWER_BYTES = 1024 * 1024;

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
      // The record first: once it says the task ended, its log is complete (see readTaskLogLines).
      const record = await readTaskRecord(home, request.params.upid);
      const start = request.query.start ?? 0;
      const { lines, more } = await readTaskLogLines(home, request.params.upid, start, {
        maxBytes: TASK_LOG_ANSWER_BYTES,
        ended: record.state !== 'running',
      });
      const data: TaskLogData = { task: taskToWire(record), log: lines, start, ...(more ? { more } : {}) };
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
