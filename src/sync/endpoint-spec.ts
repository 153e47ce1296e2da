import type { Clock, Namespace } from '../model/index.js';
import { Datastore } from '../store/index.js';
import { LocalSource, LocalTarget } from './local-endpoints.js';
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
      connections: number;
    };

export function describeEndpoint(spec: EndpointSpec, ns?: Namespace): string {
  const where =
    spec.kind === 'local' ? `datastore ${spec.store}` : `remote ${spec.remote} datastore ${spec.store}`;
  return ns ? `${where} namespace ${ns}` : where;
}

/** Opens endpoints, keeping one Datastore per path for the life of the opener (a thread). */
export class EndpointOpener {
  private readonly clock: Clock;
  private readonly datastores = new Map<string, Promise<Datastore>>();

  constructor(clock: Clock) {
    this.clock = clock;
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

  async source(spec: EndpointSpec): Promise<SyncSource> {
    if (spec.kind === 'local')
      return new LocalSource(await this.datastore(spec.path), describeEndpoint(spec));
    return this.remote('source', spec);
  }

  async target(spec: EndpointSpec): Promise<SyncTarget> {
    if (spec.kind === 'local')
      return new LocalTarget(await this.datastore(spec.path), describeEndpoint(spec));
    return this.remote('target', spec);
  }

  private remote(_role: string, spec: EndpointSpec): never {
    throw new Error(`remote endpoints are not available yet (${describeEndpoint(spec)})`);
  }

  async close(): Promise<void> {
    for (const ds of this.datastores.values()) await (await ds.catch(() => undefined))?.close();
    this.datastores.clear();
  }
}
