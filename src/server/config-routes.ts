import type { FastifyInstance } from 'fastify';
import {
  addRemote,
  createSyncJob,
  lookupRemote,
  lookupSyncJob,
  newRemote,
  publicRemote,
  type RemoteSettingsInput,
  readRemoteConfig,
  readSyncConfig,
  removeRemote,
  removeSyncJob,
  type SyncJob,
  updateRemote,
  updateSyncJob,
  withRemoteSettings,
} from '../config/index.js';
import { FerryError } from '../errors/index.js';
import {
  RemoteCreateBody,
  type RemoteItem,
  RemoteParams,
  RemoteUpdateBody,
  ROUTES,
  SyncJobCreateBody,
  type SyncJobItem,
  SyncJobParams,
  SyncJobUpdateBody,
} from '../protocol/index.js';
import { ok } from './server-context.js';

/**
 * The server's remotes and sync jobs as API resources: list, create, read, change and remove, through the same
 * functions as `ferry remote` and `ferry sync-job` on the host (the same checks, the same file locks). A remote's
 * secret goes in (`password`) but never comes out. They describe the whole host: registered in the server's host
 * scope, which lets only an admin on `/` in.
 */
export function registerConfigRoutes(app: FastifyInstance, home: string): void {
  app.get(ROUTES.remotes, async () => {
    const data: RemoteItem[] = (await readRemoteConfig(home)).map(publicRemote);
    return ok(data);
  });

  app.post<{ Body: RemoteCreateBody }>(
    ROUTES.remotes,
    { schema: { body: RemoteCreateBody } },
    async (request) => {
      const { name, ...settings } = request.body;
      return ok(publicRemote(await addRemote(home, newRemote(name, remoteSettings(settings)))));
    },
  );

  app.get<{ Params: RemoteParams }>(ROUTES.remote, { schema: { params: RemoteParams } }, async (request) => {
    return ok(publicRemote(await lookupRemote(home, request.params.name)));
  });

  app.put<{ Params: RemoteParams; Body: RemoteUpdateBody }>(
    ROUTES.remote,
    { schema: { params: RemoteParams, body: RemoteUpdateBody } },
    async (request) => {
      const { delete: unset = [], ...settings } = request.body;
      checkUnset(`remote ${request.params.name}`, settings, unset);
      const changes = remoteSettings(settings);
      for (const key of unset) changes[key] = '';
      const updated = await updateRemote(home, request.params.name, (current) =>
        withRemoteSettings(current, changes),
      );
      return ok(publicRemote(updated));
    },
  );

  app.delete<{ Params: RemoteParams }>(
    ROUTES.remote,
    { schema: { params: RemoteParams } },
    async (request) => {
      await removeRemote(home, request.params.name);
      return ok(null);
    },
  );

  app.get(ROUTES.syncJobs, async () => {
    const data: SyncJobItem[] = (await readSyncConfig(home)).map(syncJobToWire);
    return ok(data);
  });

  app.post<{ Body: SyncJobCreateBody }>(
    ROUTES.syncJobs,
    { schema: { body: SyncJobCreateBody } },
    async (request) => {
      const { id, ...values } = request.body;
      return ok(syncJobToWire(await createSyncJob(home, id, values)));
    },
  );

  app.get<{ Params: SyncJobParams }>(
    ROUTES.syncJob,
    { schema: { params: SyncJobParams } },
    async (request) => {
      return ok(syncJobToWire(await lookupSyncJob(home, request.params.id)));
    },
  );

  app.put<{ Params: SyncJobParams; Body: SyncJobUpdateBody }>(
    ROUTES.syncJob,
    { schema: { params: SyncJobParams, body: SyncJobUpdateBody } },
    async (request) => {
      const { delete: unset = [], ...values } = request.body;
      checkUnset(`sync job ${request.params.id}`, values, unset);
      if ('id' in values)
        throw new FerryError(
          'FERRY_ERR_INVALID_VALUE',
          `sync job ${request.params.id}: its id cannot be changed`,
        );
      return ok(syncJobToWire(await updateSyncJob(home, request.params.id, values, unset)));
    },
  );

  app.delete<{ Params: SyncJobParams }>(
    ROUTES.syncJob,
    { schema: { params: SyncJobParams } },
    async (request) => {
      await removeSyncJob(home, request.params.id);
      return ok(null);
    },
  );
}

/** A change may set a key or delete it, not both. */
function checkUnset(what: string, set: object, unset: readonly string[]): void {
  for (const key of unset)
    if ((set as Record<string, unknown>)[key] !== undefined)
      throw new FerryError('FERRY_ERR_INVALID_VALUE', `${what}: ${key} is both set and deleted`);
}

/** The request's remote settings with the config's names (`password` is the secret). */
function remoteSettings(body: Omit<RemoteUpdateBody, 'delete'>): RemoteSettingsInput {
  return {
    ...(body.host !== undefined ? { host: body.host } : {}),
    ...(body.port !== undefined ? { port: body.port } : {}),
    ...(body['auth-id'] !== undefined ? { authId: body['auth-id'] } : {}),
    ...(body.password !== undefined ? { secret: body.password } : {}),
    ...(body.fingerprint !== undefined ? { fingerprint: body.fingerprint } : {}),
    ...(body.comment !== undefined ? { comment: body.comment } : {}),
    ...(body.scheme !== undefined ? { scheme: body.scheme } : {}),
  };
}

function syncJobToWire(job: SyncJob): SyncJobItem {
  return { id: job.id, ...job.values };
}
