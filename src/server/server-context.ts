import type { FastifyRequest } from 'fastify';
import type { DatastoreAccess, Role } from '../config/index.js';
import { FerryError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { type AuthId, type Clock, type Namespace, parseStoreName, type StoreName } from '../model/index.js';
import type { ChunkPool, Datastore } from '../store/index.js';
import type { AccessControl } from './access-control.js';
import type { DatastoreLease, DatastoreRegistry } from './datastore-registry.js';
import type { SessionTable } from './session-table.js';

/** What every route handler works with; built once per server. */
export interface ServerContext {
  registry: DatastoreRegistry;
  access: AccessControl;
  sessions: SessionTable;
  log: Logger;
  clock: Clock;
  /** Threads that verify and store uploaded chunks and make proofs of possession, started on first use. */
  chunkPool(): ChunkPool;
}

const authIds = new WeakMap<FastifyRequest, AuthId>();

const endings = new WeakMap<FastifyRequest, (() => void)[]>();
const ended = new WeakSet<FastifyRequest>();

/**
 * Runs `fn` once the request's response has been sent or its connection cut off (see `requestEnded`); at once when
 * that has happened already (a client that went away while the route was still opening its datastore).
 */
export function atRequestEnd(request: FastifyRequest, fn: () => void): void {
  if (ended.has(request)) {
    fn();
    return;
  }
  const list = endings.get(request);
  if (list === undefined) endings.set(request, [fn]);
  else list.push(fn);
}

/** Called by the server when a request's response closes: ends what the request held (its datastore leases). */
export function requestEnded(request: FastifyRequest): void {
  ended.add(request);
  const list = endings.get(request);
  endings.delete(request);
  for (const fn of list ?? []) fn();
}

/**
 * A lease on the datastore for as long as the request runs (a streamed response included): released when the
 * response closes, so a datastore set offline is let go once the last request using it is done.
 */
export async function leaseFor(
  ctx: ServerContext,
  request: FastifyRequest,
  store: StoreName,
  access: DatastoreAccess,
): Promise<DatastoreLease> {
  const lease = await ctx.registry.acquire(store, access);
  atRequestEnd(request, lease.release);
  return lease;
}

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
 * The datastore a request names (leased until the response closes), after checking the caller's role on the namespace: the permission check comes
 * first, so a token without access cannot tell an existing datastore from a missing one. What needs role reader only
 * reads; what needs backup or admin changes the datastore, so a datastore in read-only maintenance refuses it.
 */
export async function openStoreFor(
  ctx: ServerContext,
  request: FastifyRequest,
  storeParam: string,
  ns: Namespace,
  role: Role,
): Promise<{ store: StoreName; ds: Datastore; lease: DatastoreLease; authId: AuthId }> {
  const authId = authIdOf(request);
  const store = parseStoreName(storeParam);
  await ctx.access.require(authId, store, ns, role);
  const lease = await leaseFor(ctx, request, store, role === 'reader' ? 'read' : 'write');
  return { store, ds: lease.ds, lease, authId };
}

/** The JSON envelope of a success response. */
export function ok<T>(data: T): { data: T } {
  return { data };
}
