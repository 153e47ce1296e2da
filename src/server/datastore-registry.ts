import {
  checkMaintenance,
  type DatastoreAccess,
  type DatastoreEntry,
  datastoreConfigPath,
  maintenanceOf,
  readDatastoreConfig,
} from '../config/index.js';
import { FerryError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Clock, StoreName } from '../model/index.js';
import { Datastore } from '../store/index.js';
import { WatchedFile } from './watched-file.js';

/**
 * One use of an open datastore: a request (until its response is sent or cut off) or a session (until it ends).
 * The datastore stays open while any lease on it is held.
 */
export interface DatastoreLease {
  readonly ds: Datastore;
  /** A further lease on the same open datastore (for a session a request starts), without the config checks. */
  retain(): DatastoreLease;
  /** Ends this lease; idempotent. */
  release(): void;
}

/** An open datastore and how many leases hold it. */
interface OpenStore {
  store: StoreName;
  path: string;
  ds: Promise<Datastore>;
  users: number;
}

/** How often the server looks whether a datastore nobody uses should be let go (see `sweep`). */
const SWEEP_MS = 1000;

/**
 * The datastores of `datastore.cfg` (reloaded when it changes), each opened once on first use: one Datastore (one
 * lmdb handle) per store for the server's thread, shared by every request and session through leases.
 *
 * A datastore set to `offline` maintenance, removed from datastore.cfg or moved to another path is let go once its
 * last lease ends: its lmdb index and lock files are closed (and `onClosed` is told, so the chunk threads drop theirs
 * too), so the operator can unmount its disk while `ferry serve` keeps running. New requests are refused from the
 * moment the mode is set; the ones already running finish first, as in PBS.
 */
export class DatastoreRegistry {
  private readonly config: WatchedFile<DatastoreEntry[]>;
  private readonly clock: Clock;
  private readonly log: Logger | undefined;
  private readonly onClosed: ((path: string) => Promise<void>) | undefined;
  private readonly open = new Map<string, OpenStore>();
  private sweeping: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    home: string,
    clock: Clock,
    options: { log?: Logger; onClosed?: (path: string) => Promise<void> } = {},
  ) {
    this.clock = clock;
    this.log = options.log;
    this.onClosed = options.onClosed;
    this.config = new WatchedFile(datastoreConfigPath(home), () => readDatastoreConfig(home));
  }

  async list(): Promise<DatastoreEntry[]> {
    return (await this.config.get()).value;
  }

  /**
   * A lease on the open datastore, for a request that will `access` it; FERRY_ERR_NOT_FOUND when it is not
   * configured, FERRY_ERR_MAINTENANCE when its maintenance mode (read afresh with the file) does not allow that access.
   */
  async acquire(store: StoreName, access: DatastoreAccess): Promise<DatastoreLease> {
    const entry = await this.entry(store, access);
    const key = `${store}\0${entry.path}`;
    let open = this.open.get(key);
    if (open === undefined) {
      const opened: OpenStore = {
        store,
        path: entry.path,
        ds: Datastore.open(entry.path, { clock: this.clock }),
        users: 0,
      };
      opened.ds.catch(() => {
        if (this.open.get(key) === opened) this.open.delete(key);
      });
      this.open.set(key, opened);
      open = opened;
    }
    open.users++;
    let ds: Datastore;
    try {
      ds = await open.ds;
    } catch (err) {
      open.users--;
      throw err;
    }
    return this.lease(open, ds);
  }

  private lease(open: OpenStore, ds: Datastore): DatastoreLease {
    let held = true;
    return {
      ds,
      retain: () => {
        open.users++;
        return this.lease(open, ds);
      },
      release: () => {
        if (!held) return;
        held = false;
        open.users--;
        if (open.users === 0) void this.sweep();
      },
    };
  }

  /** The datastore's configuration, with the same checks as `acquire`, without opening it. */
  async entry(store: StoreName, access: DatastoreAccess): Promise<DatastoreEntry> {
    const entry = (await this.list()).find((e) => e.name === store);
    if (entry === undefined) {
      throw new FerryError('FERRY_ERR_NOT_FOUND', `datastore ${store} does not exist`, { fields: { store } });
    }
    checkMaintenance(store, maintenanceOf(entry), access);
    return entry;
  }

  /** Open datastores and their leases, for tests and diagnostics. */
  openStores(): { store: StoreName; path: string; users: number }[] {
    return [...this.open.values()].map(({ store, path, users }) => ({ store, path, users }));
  }

  /** Looks every SWEEP_MS whether a datastore should be let go (an unref'd timer). */
  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  /**
   * Closes each open datastore that no lease holds and that should not stay open: set offline, removed from
   * datastore.cfg, or now configured at another path. One sweep at a time; a call during one waits for it and runs
   * again (the lease that ended may have been looked at before it did).
   */
  async sweep(): Promise<void> {
    while (this.sweeping !== undefined) await this.sweeping;
    this.sweeping = this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    await this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    if (![...this.open.values()].some((o) => o.users === 0)) return;
    let entries: DatastoreEntry[];
    try {
      entries = await this.list();
    } catch (err) {
      this.log?.warn({ err }, 'datastore.cfg could not be read; open datastores stay open');
      return;
    }
    for (const [key, open] of this.open) {
      if (open.users > 0) continue;
      const why = reasonToClose(open, entries);
      if (why === undefined) continue;
      this.open.delete(key); // before any await: a later acquire opens afresh (or is refused)
      try {
        await (await open.ds.catch(() => undefined))?.close();
        await this.onClosed?.(open.path);
        this.log?.info({ store: open.store, path: open.path }, `datastore ${open.store} closed: ${why}`);
      } catch (err) {
        this.log?.error({ err, store: open.store }, `closing datastore ${open.store} failed`);
      }
    }
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
    const all = [...this.open.values()];
    this.open.clear();
    for (const o of all) await (await o.ds.catch(() => undefined))?.close();
  }
}

/** Why an unused open datastore should be closed now, or undefined while it may stay open. */
function reasonToClose(open: OpenStore, entries: readonly DatastoreEntry[]): string | undefined {
  const entry = entries.find((e) => e.name === open.store);
  if (entry === undefined) return 'removed from datastore.cfg';
  if (entry.path !== open.path) return `now configured at ${entry.path}`;
  const mode = maintenanceOf(entry);
  if (mode?.type === 'offline') return 'maintenance mode offline';
  return undefined;
}
