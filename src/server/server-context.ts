import type { FastifyRequest } from 'fastify';
import type { Role } from '../config/index.js';
import { FerryError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { type AuthId, type Clock, type Namespace, parseStoreName, type StoreName } from '../model/index.js';
import type { ChunkPool, Datastore } from '../store/index.js';
import type { AccessControl } from './access-control.js';
import type { DatastoreRegistry } from './datastore-registry.js';
import type { SessionTable } from './session-table.js';

/** What every route handler works with; built once per server. */
export interface ServerContext {
  registry: DatastoreRegistry;
  access: AccessControl;
  sessions: SessionTable;
  log: Logger;
  clock: Clock;
  /** Threads that verify and store uploaded chunks, started on first use (a server that only serves reads has none). */
  chunkPool(): ChunkPool;
}

const authIds = new WeakMap<FastifyRequest, AuthId>();

/** Called by the authentication hook once the request's credentials are proven. */
export function setAuthId(request: FastifyRequest, authId: AuthId): void {
  authIds.set(request, authId);
}

/** The proven auth id of a request (every route runs after the authentication hook). */
export function authIdOf(request: FastifyRequest): AuthId {
  const id = authIds.get(request);
  if (id === undefined) throw new FerryError('FERRY_ERR_UNAUTHORIZED', 'request is not authenticated');
  return id;
}

/**
 * The datastore a request names, after checking the caller's role on the namespace: the permission check comes
 * first, so a token without access cannot tell an existing datastore from a missing one. What needs role reader only
 * reads; what needs backup or admin changes the datastore, so a datastore in read-only maintenance refuses it.
 */
export async function openStoreFor(
  ctx: ServerContext,
  request: FastifyRequest,
  storeParam: string,
  ns: Namespace,
  role: Role,
): Promise<{ store: StoreName; ds: Datastore; authId: AuthId }> {
  const authId = authIdOf(request);
  const store = parseStoreName(storeParam);
  await ctx.access.require(authId, store, ns, role);
  return { store, ds: await ctx.registry.get(store, role === 'reader' ? 'read' : 'write'), authId };
}

/** The JSON envelope of a success response. */
export function ok<T>(data: T): { data: T } {
  return { data };
}
