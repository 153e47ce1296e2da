import {
  checkMaintenance,
  type DatastoreAccess,
  type DatastoreEntry,
  datastoreConfigPath,
  maintenanceOf,
  readDatastoreConfig,
} from '../config/index.js';
import { FerryError } from '../errors/index.js';
import type { Clock, StoreName } from '../model/index.js';
import { Datastore } from '../store/index.js';
import { WatchedFile } from './watched-file.js';

/**
 * The datastores of `datastore.cfg` (reloaded when it changes), each opened once on first use and kept open: one
 * Datastore (one lmdb handle) per store for the server's thread.
 */
export class DatastoreRegistry {
  private readonly config: WatchedFile<DatastoreEntry[]>;
  private readonly clock: Clock;
  private readonly open = new Map<string, Promise<Datastore>>();

  constructor(home: string, clock: Clock) {
    this.clock = clock;
    this.config = new WatchedFile(datastoreConfigPath(home), () => readDatastoreConfig(home));
  }

  async list(): Promise<DatastoreEntry[]> {
    return (await this.config.get()).value;
  }

  /**
   * The open datastore, for a request that will `access` it; FERRY_ERR_NOT_FOUND when it is not configured,
   * FERRY_ERR_MAINTENANCE when its maintenance mode (read afresh with the file) does not allow that access.
   */
  async get(store: StoreName, access: DatastoreAccess): Promise<Datastore> {
    const entry = await this.entry(store, access);
    const key = `${store}\0${entry.path}`;
    let ds = this.open.get(key);
    if (ds === undefined) {
      ds = Datastore.open(entry.path, { clock: this.clock });
      this.open.set(key, ds);
      ds.catch(() => this.open.delete(key));
    }
    return ds;
  }

  /** The datastore's configuration, with the same checks as `get`, without opening it. */
  async entry(store: StoreName, access: DatastoreAccess): Promise<DatastoreEntry> {
    const entry = (await this.list()).find((e) => e.name === store);
    if (entry === undefined) {
      throw new FerryError('FERRY_ERR_NOT_FOUND', `datastore ${store} does not exist`, { fields: { store } });
    }
    checkMaintenance(store, maintenanceOf(entry), access);
    return entry;
  }

  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const ds of all) await (await ds.catch(() => undefined))?.close();
  }
}
