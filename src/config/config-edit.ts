import { join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { acquireLock, ensureDir } from '../io/index.js';
import { checkSafeId, type StoreName } from '../model/index.js';
import {
  type DatastoreEntry,
  readDatastoreConfig,
  requireDatastore,
  writeDatastoreConfig,
} from './datastore-config.js';
import { jobName, removeJobState } from './job-state.js';
import {
  findMaintenanceJob,
  type MaintenanceJob,
  type MaintenanceKind,
  maintenanceConfigFile,
  maintenanceJobKeys,
  parseMaintenanceJobId,
  readMaintenanceJobs,
  validateMaintenanceJob,
  writeMaintenanceJobs,
} from './maintenance-jobs.js';
import {
  checkRemoteEntry,
  lookupRemote,
  parseRemoteName,
  type RemoteEntry,
  readRemoteConfig,
  writeRemoteConfig,
} from './remote-config.js';
import {
  readSyncConfig,
  type SyncJob,
  SyncJobSchema,
  validateSyncJobValues,
  writeSyncConfig,
} from './sync-config.js';

/**
 * Changes to remote.cfg and sync.cfg, shared by the CLI (`ferry remote`, `ferry sync-job`) and the API
 * (`/config/remote`, `/config/sync`); to prune.cfg and verification.cfg (`ferry prune-job`, `ferry verify-job`); and
 * to datastore.cfg (`ferry datastore update`, `remove`). Each is a read-modify-write under the file's lock
 * (`$FERRY_HOME/.remote.lck`, `.sync.lck`, as PBS's `.remote.lck`), so two writers at once, a command on the host and
 * a request to the server or two requests, never lose each other's change. The file itself is replaced atomically,
 * so readers take no lock.
 */

/** How long a change waits for another writer of the same file before it fails with FERRY_ERR_LOCKED. */
const CONFIG_LOCK_WAIT_MS = 10_000;

/** The files a change may lock, in the one order locks are taken (so two changes never wait on each other). */
const CONFIG_FILES = [
  'datastore',
  'remote',
  'sync',
  'prune',
  'verification',
  'token',
  'acl',
  'node',
] as const;
export type ConfigFile = (typeof CONFIG_FILES)[number];
const FILE_NAMES: Readonly<Record<ConfigFile, string>> = {
  datastore: 'datastore.cfg',
  remote: 'remote.cfg',
  sync: 'sync.cfg',
  prune: 'prune.cfg',
  verification: 'verification.cfg',
  token: 'token.shadow',
  acl: 'acl.cfg',
  node: 'node.cfg',
};

/**
 * Runs a read-modify-write of config files under their locks (`$FERRY_HOME/.<file>.lck`), taken in a fixed order:
 * every change to a file in `$FERRY_HOME`, by a command or a request, goes through here.
 */
export async function withConfigLocks<T>(
  home: string,
  files: readonly ConfigFile[],
  fn: () => Promise<T>,
): Promise<T> {
  await ensureDir(home);
  const held = [];
  try {
    for (const file of CONFIG_FILES.filter((f) => files.includes(f))) {
      held.push(
        await acquireLock(join(home, `.${file}.lck`), {
          what: FILE_NAMES[file],
          waitMs: CONFIG_LOCK_WAIT_MS,
        }),
      );
    }
    return await fn();
  } finally {
    for (const lock of held.reverse()) await lock.release();
  }
}

/** The error for something jobs use (`users`: `sync job a`, `prune job b`…), which would leave them pointing at nothing. */
function inUse(what: string, users: readonly string[], fields: Record<string, string>): FerryError {
  return new FerryError(
    'FERRY_ERR_IN_USE',
    `${what} is used by ${users.join(', ')} (remove or change ${users.length > 1 ? 'them' : 'it'} first)`,
    { fields },
  );
}

/** `sync job a`, `sync jobs a, b`. */
function syncJobUsers(jobs: readonly SyncJob[]): string[] {
  return jobs.length === 0
    ? []
    : [`sync job${jobs.length > 1 ? 's' : ''} ${jobs.map((j) => j.id).join(', ')}`];
}

/**
 * Unregisters a datastore (its directory is the caller's to keep or delete), unless a job uses it: a sync job's local
 * datastore, or either side of a sync between two datastores of this host, or a prune or verify job's datastore. Its
 * GC's job state goes with it. Returns its entry.
 */
export async function removeDatastoreEntry(home: string, name: StoreName): Promise<DatastoreEntry> {
  return withConfigLocks(home, ['datastore', 'sync', 'prune', 'verification'], async () => {
    const entries = await readDatastoreConfig(home);
    const entry = requireDatastore(entries, name);
    const users = syncJobUsers(
      (await readSyncConfig(home)).filter(
        (j) => j.store === name || (j.remote === undefined && j.remoteStore === name),
      ),
    );
    for (const kind of ['prune', 'verify'] as const) {
      for (const job of await readMaintenanceJobs(home, kind))
        if (job.store === name) users.push(jobName(kind, job.id));
    }
    if (users.length > 0) throw inUse(`datastore ${name}`, users, { store: name });
    await writeDatastoreConfig(
      home,
      entries.filter((e) => e.name !== name),
    );
    await removeJobState(home, 'gc', name);
    return entry;
  });
}

/**
 * Changes a datastore's settings under datastore.cfg's lock: `change` gets a copy of its entry to edit (values it sets
 * were checked by the caller as the file's reader checks them). Returns the entry as written.
 */
export async function updateDatastoreEntry(
  home: string,
  name: StoreName,
  change: (entry: DatastoreEntry) => void,
): Promise<DatastoreEntry> {
  return withConfigLocks(home, ['datastore'], async () => {
    const entries = await readDatastoreConfig(home);
    const entry = requireDatastore(entries, name);
    const next: DatastoreEntry = { ...entry };
    change(next);
    await writeDatastoreConfig(
      home,
      entries.map((e) => (e === entry ? next : e)),
    );
    return next;
  });
}

/** Adds a remote; its name must be new. */
export async function addRemote(home: string, entry: RemoteEntry): Promise<RemoteEntry> {
  checkRemoteEntry(entry);
  return withConfigLocks(home, ['remote'], async () => {
    const entries = await readRemoteConfig(home);
    if (entries.some((e) => e.name === entry.name))
      throw new FerryError('FERRY_ERR_ALREADY_EXISTS', `remote ${entry.name} exists already`, {
        fields: { remote: entry.name },
      });
    await writeRemoteConfig(home, [...entries, entry]);
    return entry;
  });
}

/** Changes a remote: `change` gets the current entry and returns the new one (its name stays). */
export async function updateRemote(
  home: string,
  name: string,
  change: (current: RemoteEntry) => RemoteEntry,
): Promise<RemoteEntry> {
  return withConfigLocks(home, ['remote'], async () => {
    const current = await lookupRemote(home, name);
    const updated = checkRemoteEntry({ ...change(current), name: current.name });
    const entries = await readRemoteConfig(home);
    await writeRemoteConfig(
      home,
      entries.map((e) => (e.name === current.name ? updated : e)),
    );
    return updated;
  });
}

/** Removes a remote no sync job uses (as PBS, which refuses to leave a job pointing at nothing). */
export async function removeRemote(home: string, name: string): Promise<RemoteEntry> {
  return withConfigLocks(home, ['remote', 'sync'], async () => {
    const entry = await lookupRemote(home, name);
    const users = (await readSyncConfig(home)).filter((j) => j.remote === entry.name);
    if (users.length > 0) throw inUse(`remote ${entry.name}`, syncJobUsers(users), { remote: entry.name });
    await writeRemoteConfig(
      home,
      (await readRemoteConfig(home)).filter((e) => e.name !== entry.name),
    );
    return entry;
  });
}

export function parseSyncJobId(value: unknown): string {
  return checkSafeId('sync job id', value, 64);
}

/** The sync.cfg keys, for checking the keys a change names (`delete`). */
export const SYNC_JOB_KEYS: readonly string[] = Object.keys(SyncJobSchema.properties);

/**
 * Checks what a job refers to on this host: its remote is configured, and its local datastore (both, for a sync
 * between two datastores of this host) exists. A job that names a typo fails when it is made, not at 3 a.m. A change
 * checks only what it names, so a job whose datastore has gone can still be changed to point elsewhere.
 */
async function checkReferences(
  home: string,
  job: SyncJob,
  changed: ReadonlySet<string> = new Set(SYNC_JOB_KEYS),
): Promise<SyncJob> {
  if (job.remote !== undefined && changed.has('remote')) {
    const remote = parseRemoteName(job.remote);
    if (!(await readRemoteConfig(home)).some((r) => r.name === remote))
      throw new FerryError(
        'FERRY_ERR_INVALID_VALUE',
        `sync job ${job.id}: remote ${remote} is not configured (ferry remote add)`,
        { fields: { what: 'remote' } },
      );
  }
  const stores = new Set((await readDatastoreConfig(home)).map((d) => d.name as string));
  for (const [key, store] of [
    ['store', job.store],
    ...(job.remote === undefined ? [['remote-store', job.remoteStore] as const] : []),
  ] as const) {
    if (changed.has(key) && !stores.has(store))
      throw new FerryError(
        'FERRY_ERR_INVALID_VALUE',
        `sync job ${job.id}: ${key} ${store} is not a datastore of this host (ferry datastore create)`,
        { fields: { what: key } },
      );
  }
  return job;
}

async function findJob(home: string, id: string): Promise<{ jobs: SyncJob[]; job: SyncJob }> {
  const jobId = parseSyncJobId(id);
  const jobs = await readSyncConfig(home);
  const job = jobs.find((j) => j.id === jobId);
  if (!job)
    throw new FerryError('FERRY_ERR_NOT_FOUND', `sync job ${jobId} does not exist`, {
      fields: { job: jobId },
    });
  return { jobs, job };
}

/** One sync job by id. */
export async function lookupSyncJob(home: string, id: string): Promise<SyncJob> {
  return (await findJob(home, id)).job;
}

/** Creates a sync job from its sync.cfg keys (strings as on the command line, or typed values as in JSON). */
export async function createSyncJob(
  home: string,
  id: string,
  values: Record<string, unknown>,
): Promise<SyncJob> {
  const jobId = parseSyncJobId(id);
  return withConfigLocks(home, ['remote', 'sync'], async () => {
    const jobs = await readSyncConfig(home);
    if (jobs.some((j) => j.id === jobId))
      throw new FerryError('FERRY_ERR_ALREADY_EXISTS', `sync job ${jobId} exists already`, {
        fields: { job: jobId },
      });
    const job = await checkReferences(home, validateSyncJobValues(jobId, values));
    await writeSyncConfig(home, [...jobs, job]);
    return job;
  });
}

/** Sets the keys in `set` and removes those in `remove` (PBS's `delete`); the rest of the job stays. */
export async function updateSyncJob(
  home: string,
  id: string,
  set: Record<string, unknown>,
  remove: readonly string[] = [],
): Promise<SyncJob> {
  for (const key of remove)
    if (!SYNC_JOB_KEYS.includes(key))
      throw new FerryError(
        'FERRY_ERR_INVALID_VALUE',
        `sync job ${id}: no key ${JSON.stringify(key)} to delete`,
        {
          fields: { what: 'delete' },
        },
      );
  return withConfigLocks(home, ['remote', 'sync'], async () => {
    const { jobs, job } = await findJob(home, id);
    const values: Record<string, unknown> = { ...job.values };
    for (const key of remove) delete values[key];
    Object.assign(values, set);
    // Deleting `remote` makes the job a local one, whose remote-store must then be a datastore here.
    const changed = new Set([...Object.keys(set), ...(remove.includes('remote') ? ['remote-store'] : [])]);
    const updated = await checkReferences(home, validateSyncJobValues(job.id, values), changed);
    await writeSyncConfig(
      home,
      jobs.map((j) => (j.id === job.id ? updated : j)),
    );
    return updated;
  });
}

export async function removeSyncJob(home: string, id: string): Promise<SyncJob> {
  return withConfigLocks(home, ['sync'], async () => {
    const { jobs, job } = await findJob(home, id);
    await writeSyncConfig(
      home,
      jobs.filter((j) => j !== job),
    );
    // A job created again under this id starts afresh, not from the old one's last run.
    await removeJobState(home, 'sync', job.id);
    return job;
  });
}

/** A job's datastore must be configured here: a typo fails when the job is made, not at its first run. */
async function checkJobStore(home: string, job: MaintenanceJob): Promise<MaintenanceJob> {
  if (!(await readDatastoreConfig(home)).some((d) => d.name === job.store))
    throw new FerryError(
      'FERRY_ERR_INVALID_VALUE',
      `${jobName(job.kind, job.id)}: store ${job.store} is not a datastore of this host (ferry datastore create)`,
      { fields: { what: 'store' } },
    );
  return job;
}

/** Creates a prune or verify job from its keys; its id must be new and its datastore configured. */
export async function createMaintenanceJob(
  home: string,
  kind: MaintenanceKind,
  id: string,
  values: Record<string, unknown>,
): Promise<MaintenanceJob> {
  const jobId = parseMaintenanceJobId(kind, id);
  return withConfigLocks(home, [maintenanceConfigFile(kind)], async () => {
    const jobs = await readMaintenanceJobs(home, kind);
    if (jobs.some((j) => j.id === jobId))
      throw new FerryError('FERRY_ERR_ALREADY_EXISTS', `${jobName(kind, jobId)} exists already`, {
        fields: { job: jobId },
      });
    const job = await checkJobStore(home, validateMaintenanceJob(kind, jobId, values));
    await writeMaintenanceJobs(home, kind, [...jobs, job]);
    return job;
  });
}

/** Sets the keys in `set` and removes those in `remove` (PBS's `delete`); the rest of the job stays. */
export async function updateMaintenanceJob(
  home: string,
  kind: MaintenanceKind,
  id: string,
  set: Record<string, unknown>,
  remove: readonly string[] = [],
): Promise<MaintenanceJob> {
  const keys = maintenanceJobKeys(kind);
  for (const key of remove)
    if (!keys.includes(key))
      throw new FerryError(
        'FERRY_ERR_INVALID_VALUE',
        `${jobName(kind, id)}: no key ${JSON.stringify(key)} to delete`,
        { fields: { what: 'delete' } },
      );
  return withConfigLocks(home, [maintenanceConfigFile(kind)], async () => {
    const { jobs, job } = await findMaintenanceJob(home, kind, id);
    const values: Record<string, unknown> = { ...job.values };
    for (const key of remove) delete values[key];
    Object.assign(values, set);
    let updated = validateMaintenanceJob(kind, job.id, values);
    if ('store' in set) updated = await checkJobStore(home, updated);
    await writeMaintenanceJobs(
      home,
      kind,
      jobs.map((j) => (j.id === job.id ? updated : j)),
    );
    return updated;
  });
}

export async function removeMaintenanceJob(
  home: string,
  kind: MaintenanceKind,
  id: string,
): Promise<MaintenanceJob> {
  return withConfigLocks(home, [maintenanceConfigFile(kind)], async () => {
    const { jobs, job } = await findMaintenanceJob(home, kind, id);
    await writeMaintenanceJobs(
      home,
      kind,
      jobs.filter((j) => j !== job),
    );
    await removeJobState(home, kind, job.id);
    return job;
  });
}
