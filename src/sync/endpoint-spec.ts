import { FerryError } from '../errors/index.js';
import type { LogMethods } from '../log/index.js';
import type { Clock, Namespace } from '../model/index.js';
import { FerryClient, SharedRateLimiter } from '../remote/index.js';
import { Datastore } from '../store/index.js';
import { LocalSource, LocalTarget } from './local-endpoints.js';
import { RemoteSource, RemoteTarget } from './remote-endpoints.js';
import type { SyncSource, SyncTarget } from './sync-types.js';

/**
 * How to reach one end of a sync, in plain data so it crosses to worker threads: each thread opens its own
 * datastore handles (own lmdb) and its own connections from it.
 */
export type EndpointSpec =
  | { kind: 'local'; store: string; path: string }
  | {
      kind: 'remote';
      remote: string;
      store: string;
      url: string;
      authId: string;
      secret: string;
      fingerprint: string | undefined;
      /** Connections of this thread's client (batches in flight at once). */
      connections: number;
    };

/** The job's shared budgets (SharedRateLimiter buffers), one for all threads. */
export interface RateBuffers {
  in?: SharedArrayBuffer | undefined;
  out?: SharedArrayBuffer | undefined;
}

type Limiters = { in?: SharedRateLimiter; out?: SharedRateLimiter };

export function describeEndpoint(spec: EndpointSpec, ns?: Namespace): string {
  const where =
    spec.kind === 'local' ? `datastore ${spec.store}` : `remote ${spec.remote} datastore ${spec.store}`;
  return ns ? `${where} namespace ${ns}` : where;
}

/**
 * Opens endpoints for one thread: one Datastore per path and one FerryClient per remote, kept for the life of the
 * opener (the thread's part of a job) and closed with it.
 */
export class EndpointOpener {
  private readonly clock: Clock;
  private readonly log: LogMethods;
  private readonly rates: RateBuffers;
  private limiters: Promise<Limiters> | undefined;
  private readonly datastores = new Map<string, Promise<Datastore>>();
  private readonly clients = new Map<string, Promise<FerryClient>>();

  constructor(clock: Clock, log: LogMethods, rates: RateBuffers = {}) {
    this.clock = clock;
    this.log = log;
    this.rates = rates;
  }

  private datastore(path: string): Promise<Datastore> {
    let ds = this.datastores.get(path);
    if (ds === undefined) {
      ds = Datastore.open(path, { clock: this.clock });
      this.datastores.set(path, ds);
      ds.catch(() => this.datastores.delete(path));
    }
    return ds;
  }

  private rateLimiters(): Promise<Limiters> {
    this.limiters ??= (async () => {
      if (!this.rates.in && !this.rates.out) return {};
      return {
        ...(this.rates.in ? { in: SharedRateLimiter.fromBuffer(this.rates.in, { clock: this.clock }) } : {}),
        ...(this.rates.out
          ? { out: SharedRateLimiter.fromBuffer(this.rates.out, { clock: this.clock }) }
          : {}),
      };
    })();
    return this.limiters;
  }

  private client(spec: Extract<EndpointSpec, { kind: 'remote' }>): Promise<FerryClient> {
    const key = `${spec.url}\n${spec.authId}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      client = (async () => {
        return new FerryClient({
          url: spec.url,
          authId: spec.authId,
          secret: spec.secret,
          ...(spec.fingerprint !== undefined ? { fingerprint: spec.fingerprint } : {}),
          connections: spec.connections,
          rateLimit: await this.rateLimiters(),
          log: this.log,
        });
      })();
      this.clients.set(key, client);
    }
    return client;
  }

  async source(spec: EndpointSpec): Promise<SyncSource> {
    if (spec.kind === 'local') {
      return new LocalSource(
        await this.datastore(spec.path),
        describeEndpoint(spec),
        (await this.rateLimiters()).in,
      );
    }
    return new RemoteSource(await this.client(spec), spec.store, describeEndpoint(spec));
  }

  async target(spec: EndpointSpec): Promise<SyncTarget> {
    if (spec.kind === 'local')
      return new LocalTarget(await this.datastore(spec.path), describeEndpoint(spec));
    return new RemoteTarget(await this.client(spec), spec.store, describeEndpoint(spec));
  }

  async close(): Promise<void> {
    for (const ds of this.datastores.values()) await (await ds.catch(() => undefined))?.close();
    this.datastores.clear();
    for (const client of this.clients.values())
      await (await client.catch(() => undefined))?.close().catch(() => undefined);
    this.clients.clear();
  }
}

/** The shared budgets for a job's rate limits (created once, on the coordinator's thread). */
export async function createRateBuffers(
  rateIn?: { rate: number; burst: number },
  rateOut?: { rate: number; burst: number },
): Promise<RateBuffers> {
  if (!rateIn && !rateOut) return {};
  if ((rateIn && rateIn.rate < 1) || (rateOut && rateOut.rate < 1)) {
    throw new FerryError('FERRY_ERR_INVALID_VALUE', 'rate limits must be at least 1 B/s');
  }
  return {
    in: rateIn ? SharedRateLimiter.create(rateIn).buffer : undefined,
    out: rateOut ? SharedRateLimiter.create(rateOut).buffer : undefined,
  };
}
