import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { type FastifyInstance, fastify, LogController } from 'fastify';
import { type HostPort, hostForUrl, isLoopbackHost } from '../config/index.js';
import { FerryError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { type Clock, SYSTEM_CLOCK } from '../model/index.js';
import { CONTENT_TYPE, errorBody, httpStatusFor, LIMITS } from '../protocol/index.js';
import { ChunkPool } from '../store/index.js';
import { AccessControl } from './access-control.js';
import { registerAdminRoutes } from './admin-routes.js';
import { Authenticator } from './authenticator.js';
import { ensureCertificate } from './certificate.js';
import { registerConfigRoutes } from './config-routes.js';
import { DatastoreRegistry } from './datastore-registry.js';
import { errorForReply } from './error-reply.js';
import { type JobRunner, registerDatastoreRunRoutes, registerJobRoutes } from './job-routes.js';
import { registerReaderRoutes } from './reader-routes.js';
import { authIdOf, requestEnded, type ServerContext, setAuthId } from './server-context.js';
import { type SessionLimits, SessionTable } from './session-table.js';
import { registerSpeedtestRoutes } from './speedtest-routes.js';
import { registerTaskRoutes } from './task-routes.js';
import { registerWriterRoutes } from './writer-routes.js';

export interface ServerLimits extends SessionLimits {
  /** On close, in-flight requests get this long to finish before their connections are cut. */
  drainMs: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  idleMs: 5 * 60_000,
  maxSessions: 64,
  maxSessionsPerAuthId: 32,
  drainMs: 30_000,
};

export interface ServerOptions {
  /** `$FERRY_HOME`: datastore.cfg, token.shadow, acl.cfg and the certificate. */
  home: string;
  listen: HostPort;
  /** Plain HTTP; refused on anything but a loopback address. */
  insecureHttp?: boolean;
  log: Logger;
  clock?: Clock;
  limits?: Partial<ServerLimits>;
  /**
   * Starts runs now, each as its own process, and answers their task ids: configured jobs
   * (`POST /admin/{sync,prune,verify}/{id}/run`), GC and verification (`POST /admin/datastore/{store}/gc`,
   * `…/verify`). `ferry serve` gives it; without it those routes answer that this server does not run jobs.
   */
  jobs?: JobRunner;
}

export interface ServerStats {
  /** HTTP requests received (every one, before authentication). */
  requests: number;
  /** Requests in progress now (a streamed response counts until it is sent). */
  inFlight: number;
  sessions: number;
}

/** A running `ferry serve`. */
export interface FerryServer {
  /** The URL clients use, with the real port (also when asked for port 0). */
  readonly url: string;
  /** SHA-256 fingerprint of the TLS certificate; null for plain HTTP. */
  readonly fingerprint: string | null;
  stats(): ServerStats;
  /** Stops accepting, drains in-flight requests, aborts open sessions, closes the datastores. */
  close(): Promise<void>;
}

/**
 * Starts the API server. Steps: refuse plain HTTP off loopback; load or make the certificate; build fastify with
 * the content-type parsers, the counting and authentication hook, the error replies and the routes; listen.
 */
export async function startServer(options: ServerOptions): Promise<FerryServer> {
  const { home, log } = options;
  const clock = options.clock ?? SYSTEM_CLOCK;
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  const insecure = options.insecureHttp === true;
  if (insecure && !isLoopbackHost(options.listen.host)) {
    throw new FerryError(
      'FERRY_ERR_USAGE',
      `plain HTTP is only allowed on a loopback address, not ${options.listen.host} (drop --insecure-http to serve HTTPS)`,
    );
  }
  const cert = insecure ? undefined : await ensureCertificate(home, clock);

  const common = {
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: LIMITS.maxJsonBody,
    keepAliveTimeout: 65_000,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  };
  const app = (cert === undefined
    ? fastify(common)
    : fastify({
        ...common,
        https: { key: cert.key, cert: cert.cert, minVersion: 'TLSv1.2' },
      })) as unknown as FastifyInstance;

  const authenticator = new Authenticator(home);
  const sessions = new SessionTable({ clock, limits, log });
  let pool: ChunkPool | undefined;
  const retired = new Set<Promise<void>>();
  // A datastore the registry let go may still be open in the chunk threads: the pool that ran tasks for it is
  // replaced (new uploads go to a new one) and closed once its tasks are done, which closes what its threads held.
  const releaseFromPool = async (path: string): Promise<void> => {
    if (pool === undefined || !pool.hasOpened(path)) return;
    const old = pool;
    pool = undefined;
    const closing = old.close().finally(() => retired.delete(closing));
    retired.add(closing);
    await closing;
  };
  const ctx: ServerContext = {
    registry: new DatastoreRegistry(home, clock, { log, onClosed: releaseFromPool }),
    access: new AccessControl(home),
    sessions,
    log,
    clock,
    chunkPool: () => {
      // A thread per core, at most four: each holds its own heap and lmdb handle, and uploads reach it two chunks per
      // request at a time, so a many-core host gains nothing from dozens of idle verifiers.
      pool ??= new ChunkPool({ threads: Math.min(4, availableParallelism()) });
      return pool;
    },
  };
  let requests = 0;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  app.addContentTypeParser(CONTENT_TYPE.octets, { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );
  // Chunk uploads are read frame by frame by the route, never buffered whole.
  app.addContentTypeParser(CONTENT_TYPE.chunkFrames, (_request, payload, done) => done(null, payload));

  app.addHook('onRequest', async (request, reply) => {
    requests++;
    inFlight++;
    reply.raw.once('close', () => {
      requestEnded(request);
      inFlight--;
      if (inFlight === 0) drained?.();
    });
    setAuthId(request, await authenticator.authenticate(request.headers.authorization));
  });

  app.setErrorHandler((err, request, reply) => {
    const error = errorForReply(err);
    const status = httpStatusFor(error.code);
    if (request.raw.destroyed)
      log.info({ code: error.code, url: request.url }, 'client went away mid-request');
    else if (status >= 500) log.error({ err, method: request.method, url: request.url }, 'request failed');
    else log.debug({ code: error.code, method: request.method, url: request.url }, error.message);
    return reply.code(status).type(CONTENT_TYPE.json).send(errorBody(error));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type(CONTENT_TYPE.json)
      .send(
        errorBody(
          new FerryError('FERRY_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
        ),
      ),
  );

  registerAdminRoutes(app, ctx);
  registerReaderRoutes(app, ctx);
  registerWriterRoutes(app, ctx);
  registerSpeedtestRoutes(app);
  // A datastore's GC and verification, and the tasks: each route checks the role on the datastore its run or task is of.
  registerDatastoreRunRoutes(app, ctx, options.jobs);
  registerTaskRoutes(app, ctx, home);
  // What belongs to the whole host, not to one datastore (its remotes and jobs, and running those): every route of this scope
  // needs the admin role on `/`, checked before the request is validated, so a token without it learns nothing.
  app.register((host, _options, done) => {
    host.addHook('preValidation', async (request) => ctx.access.requireRoot(authIdOf(request), 'admin'));
    registerConfigRoutes(host, home);
    registerJobRoutes(host, options.jobs);
    done();
  });

  await app.listen({ host: options.listen.host, port: options.listen.port });
  sessions.start();
  ctx.registry.start();
  const address = app.server.address() as AddressInfo;
  const url = `${insecure ? 'http' : 'https'}://${hostForUrl(urlHost(options.listen.host))}:${address.port}`;
  log.info({ url, fingerprint: cert?.fingerprint ?? null }, 'ferry serve is ready');

  let closing: Promise<void> | undefined;
  return {
    url,
    fingerprint: cert?.fingerprint ?? null,
    stats: () => ({ requests, inFlight, sessions: sessions.size }),
    close: () => {
      closing ??= (async () => {
        // Stop accepting (new requests on open connections get 503), let in-flight requests finish for up to
        // drainMs, then cut every connection: also those a client opened but never used, which Node does not
        // count as idle.
        const stopped = app.close();
        if (inFlight > 0) {
          await new Promise<void>((resolve) => {
            const cut = setTimeout(resolve, limits.drainMs);
            drained = () => {
              clearTimeout(cut);
              resolve();
            };
          });
        }
        app.server.closeAllConnections();
        try {
          await stopped;
        } finally {
          await sessions.closeAll('server stopping');
          await pool?.destroy();
          await Promise.all(retired);
          await ctx.registry.close();
        }
      })();
      return closing;
    },
  };
}

/** Where a client on this machine reaches a wildcard listener. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}
