import type { FastifyInstance } from 'fastify';
import { publicRemote, readRemoteConfig, readSyncConfig } from '../config/index.js';
import { type RemoteItem, ROUTES, type SyncJobItem } from '../protocol/index.js';
import type { AccessControl } from './access-control.js';
import { authIdOf, ok } from './server-context.js';

/**
 * The server's remotes and sync jobs as API resources, read-only (they are changed with `ferry remote` and `ferry
 * sync-job` on the host): the same views as `ferry remote list` (never a secret) and `ferry sync-job list`. They
 * describe the whole host, so they need the admin role on `/`.
 */
export function registerConfigRoutes(app: FastifyInstance, home: string, access: AccessControl): void {
  app.get(ROUTES.remotes, async (request) => {
    await access.requireRoot(authIdOf(request), 'admin');
    const data: RemoteItem[] = (await readRemoteConfig(home)).map(publicRemote);
    return ok(data);
  });

  app.get(ROUTES.syncJobs, async (request) => {
    await access.requireRoot(authIdOf(request), 'admin');
    const data: SyncJobItem[] = (await readSyncConfig(home)).map((j) => ({ id: j.id, ...j.values }));
    return ok(data);
  });
}
