import type { FastifyInstance } from 'fastify';
import { listTasks, readTask, stopTask, type TaskRecord } from '../config/index.js';
import { ROUTES, type TaskItem, type TaskLogData, UpidParams } from '../protocol/index.js';
import { ok } from './server-context.js';

/**
 * The tasks of the server's `$FERRY_HOME` (sync jobs the CLI runs there, e.g. from cron) as API resources, for a UI or
 * a script watching them: the list, one task with its log, and stop. They belong to the whole host: registered in the
 * server's host scope, which lets only an admin on `/` in. Paths as PBS's (`/nodes/{node}/tasks`), with the one node `localhost`.
 */
export function registerTaskRoutes(app: FastifyInstance, home: string): void {
  app.get(ROUTES.tasks, async () => {
    return ok((await listTasks(home)).map(taskToWire));
  });

  app.get<{ Params: UpidParams }>(ROUTES.task, { schema: { params: UpidParams } }, async (request) => {
    const { record, log } = await readTask(home, request.params.upid);
    const data: TaskLogData = { task: taskToWire(record), log: log === '' ? [] : log.trimEnd().split('\n') };
    return ok(data);
  });

  app.delete<{ Params: UpidParams }>(ROUTES.task, { schema: { params: UpidParams } }, async (request) => {
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
