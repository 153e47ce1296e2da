/**
 * Every route of the API, in one table. Paths follow PBS where a PBS user would look
 * (`/api2/json/admin/datastore/{store}/groups`); session routes live below `/api2/json/reader/{session}` and
 * `/api2/json/writer/{session}`. docs/API.md describes each one.
 */
export const API_PREFIX = '/api2/json';

export const ROUTES = {
  version: '/api2/json/version',
  datastores: '/api2/json/admin/datastore',
  namespace: '/api2/json/admin/datastore/:store/namespace',
  groups: '/api2/json/admin/datastore/:store/groups',
  snapshots: '/api2/json/admin/datastore/:store/snapshots',
  /** What a datastore holds and what it costs on disk (PBS's status). */
  status: '/api2/json/admin/datastore/:store/status',
  /** Retention of one group (PBS's keep options), and a snapshot's protection. */
  prune: '/api2/json/admin/datastore/:store/prune',
  protected: '/api2/json/admin/datastore/:store/protected',
  readerOpen: '/api2/json/admin/datastore/:store/reader',
  writerOpen: '/api2/json/admin/datastore/:store/writer',
  reader: '/api2/json/reader/:session',
  readerDownload: '/api2/json/reader/:session/download',
  readerChunks: '/api2/json/reader/:session/chunks',
  readerProve: '/api2/json/reader/:session/prove',
  writer: '/api2/json/writer/:session',
  writerPrevious: '/api2/json/writer/:session/previous',
  writerKnown: '/api2/json/writer/:session/known',
  writerChallenge: '/api2/json/writer/:session/challenge',
  writerProve: '/api2/json/writer/:session/prove',
  writerChunks: '/api2/json/writer/:session/chunks',
  writerFile: '/api2/json/writer/:session/file',
  writerFinish: '/api2/json/writer/:session/finish',
  /** Tasks of the server's $FERRY_HOME (sync jobs, verify, prune and gc runs of the CLI): list, one task with its log, stop. */
  tasks: '/api2/json/nodes/localhost/tasks',
  task: '/api2/json/nodes/localhost/tasks/:upid',
  /** Remotes (never their secrets) and sync jobs of the server's $FERRY_HOME: list and create, read, change, remove. */
  remotes: '/api2/json/config/remote',
  remote: '/api2/json/config/remote/:name',
  syncJobs: '/api2/json/config/sync',
  syncJob: '/api2/json/config/sync/:id',
  syncJobRun: '/api2/json/admin/sync/:id/run',
  pruneJobRun: '/api2/json/admin/prune/:id/run',
  verifyJobRun: '/api2/json/admin/verify/:id/run',
  /** Garbage collection and verification of a datastore, started now as tasks of their own (PBS's paths). */
  datastoreGc: '/api2/json/admin/datastore/:store/gc',
  datastoreVerify: '/api2/json/admin/datastore/:store/verify',
  /** The link speed test of `ferry benchmark --remote`: GET sends bytes, POST takes bytes; nothing is stored. */
  speedtest: '/api2/json/speedtest',
} as const;

/** The kinds of configured job a request may run now, and the route of each (PBS's `POST /admin/{kind}/{id}/run`). */
export const JOB_RUN_ROUTES = {
  sync: 'syncJobRun',
  prune: 'pruneJobRun',
  verify: 'verifyJobRun',
} as const;
export type RunnableJobKind = keyof typeof JOB_RUN_ROUTES;

export type RouteName = keyof typeof ROUTES;

/** Content types besides JSON. */
export const CONTENT_TYPE = {
  json: 'application/json',
  /** A file's raw bytes (archives, the manifest blob). */
  octets: 'application/octet-stream',
  /** A stream of chunk frames (see chunk-frame.ts). */
  chunkFrames: 'application/x-ferry-chunk-frames',
  /** Speed-test upload bytes, read and dropped by the server. */
  speedtest: 'application/x-ferry-speedtest',
} as const;

/** The scheme of the Authorization header, as PBS names it: `PBSAPIToken <auth-id>:<secret>`. */
export const AUTH_SCHEME = 'PBSAPIToken';

/** Fills a route's `:name` parameters (percent-encoded). */
export function routePath(route: RouteName, params: Readonly<Record<string, string>> = {}): string {
  return ROUTES[route].replace(/:([a-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`route ${route}: missing parameter ${name}`);
    return encodeURIComponent(value);
  });
}

/** The Authorization header value for an API token. The secret is percent-encoded, as PBS does. */
export function authorizationHeader(authId: string, secret: string): string {
  return `${AUTH_SCHEME} ${authId}:${encodeURIComponent(secret)}`;
}
