import { type Static, Type } from '@sinclair/typebox';
import { MAX_KEEP } from '../model/index.js';
import { LIMITS } from './limits.js';

/**
 * TypeBox schemas of every request part (route parameters, query strings, JSON bodies) and of the JSON response
 * data. The server validates requests with them (unknown keys are refused); the client builds requests from the same
 * types and checks responses with them. Names follow PBS's parameter names (`backup-type`, `backup-id`,
 * `backup-time` in epoch seconds, `ns` as `a/b`). Values are checked again by the model parsers, which are the
 * authority on names; the schemas bound lengths and shapes.
 */
const strict = { additionalProperties: false } as const;

const NsString = Type.String({ maxLength: 256 });
const BackupType = Type.String({ maxLength: 8 });
const BackupId = Type.String({ maxLength: 128 });
const BackupTime = Type.Integer({ minimum: 0, maximum: 253402300799 });
const FileName = Type.String({ maxLength: 128 });
const AuthIdString = Type.String({ maxLength: 200 });
const DigestString = Type.String({ pattern: '^[0-9a-f]{64}$' });
const CryptModeString = Type.Union([
  Type.Literal('none'),
  Type.Literal('encrypt'),
  Type.Literal('sign-only'),
]);

export const StoreParams = Type.Object({ store: Type.String({ maxLength: 64 }) }, strict);
export const SessionParams = Type.Object({ session: Type.String({ pattern: '^[0-9a-f]{32}$' }) }, strict);

export const NamespaceListQuery = Type.Object(
  { parent: Type.Optional(NsString), 'max-depth': Type.Optional(Type.Integer({ minimum: 0, maximum: 7 })) },
  strict,
);
export const NamespaceCreateBody = Type.Object(
  { name: Type.String({ maxLength: 64 }), parent: Type.Optional(NsString) },
  strict,
);
export const NamespaceDeleteQuery = Type.Object(
  { ns: NsString, 'delete-groups': Type.Optional(Type.Boolean()) },
  strict,
);
export const NsQuery = Type.Object({ ns: Type.Optional(NsString) }, strict);
export const GroupQuery = Type.Object(
  { ns: Type.Optional(NsString), 'backup-type': BackupType, 'backup-id': BackupId },
  strict,
);
export const SnapshotsQuery = Type.Object(
  {
    ns: Type.Optional(NsString),
    'backup-type': Type.Optional(BackupType),
    'backup-id': Type.Optional(BackupId),
  },
  strict,
);
export const SnapshotQuery = Type.Object(
  {
    ns: Type.Optional(NsString),
    'backup-type': BackupType,
    'backup-id': BackupId,
    'backup-time': BackupTime,
  },
  strict,
);

const KeepCount = Type.Integer({ minimum: 0, maximum: MAX_KEEP });
/** PBS's prune parameters for one group; counts of 0 are as if not given, and no count at all keeps everything. */
export const PruneBody = Type.Object(
  {
    ns: Type.Optional(NsString),
    'backup-type': BackupType,
    'backup-id': BackupId,
    'dry-run': Type.Optional(Type.Boolean()),
    'keep-last': Type.Optional(KeepCount),
    'keep-hourly': Type.Optional(KeepCount),
    'keep-daily': Type.Optional(KeepCount),
    'keep-weekly': Type.Optional(KeepCount),
    'keep-monthly': Type.Optional(KeepCount),
    'keep-yearly': Type.Optional(KeepCount),
  },
  strict,
);
/** What `POST …/verify` verifies (PBS's parameters): a namespace and those below it, a group, or one snapshot. */
export const VerifyRunBody = Type.Object(
  {
    ns: Type.Optional(NsString),
    'max-depth': Type.Optional(Type.Integer({ minimum: 0, maximum: 7 })),
    'backup-type': Type.Optional(BackupType),
    'backup-id': Type.Optional(BackupId),
    'backup-time': Type.Optional(BackupTime),
    'ignore-verified': Type.Optional(Type.Boolean()),
    'outdated-after': Type.Optional(Type.Integer({ minimum: 0, maximum: 36_500 })),
  },
  strict,
);

export const ProtectedBody = Type.Object(
  {
    ns: Type.Optional(NsString),
    'backup-type': BackupType,
    'backup-id': BackupId,
    'backup-time': BackupTime,
    protected: Type.Boolean(),
  },
  strict,
);

export const ReaderOpenBody = Type.Object(
  {
    ns: Type.Optional(NsString),
    'backup-type': BackupType,
    'backup-id': BackupId,
    /** Files of one snapshot to send along with the session (what the client would download next). */
    prefetch: Type.Optional(
      Type.Object(
        {
          'backup-time': BackupTime,
          'file-names': Type.Array(FileName, { maxItems: LIMITS.maxPrefetchFiles }),
        },
        strict,
      ),
    ),
  },
  strict,
);
export const WriterOpenBody = Type.Object(
  {
    ns: Type.Optional(NsString),
    'backup-type': BackupType,
    'backup-id': BackupId,
    'backup-time': BackupTime,
    owner: Type.Optional(AuthIdString),
  },
  strict,
);
export const DownloadQuery = Type.Object({ 'backup-time': BackupTime, 'file-name': FileName }, strict);
export const FileNameQuery = Type.Object({ 'file-name': FileName }, strict);
export const FileUploadQuery = Type.Object(
  { 'file-name': FileName, 'crypt-mode': Type.Optional(CryptModeString) },
  strict,
);
export const DigestListBody = Type.Object(
  { digests: Type.Array(DigestString, { maxItems: LIMITS.maxBatchDigests }) },
  strict,
);
export const ProveBody = Type.Object(
  {
    nonce: Type.String({
      pattern: `^([0-9a-f]{2}){${LIMITS.minNonceBytes},${LIMITS.maxNonceBytes}}$`,
    }),
    digests: Type.Array(DigestString, { maxItems: LIMITS.maxProveDigests }),
  },
  strict,
);

/** The client's proofs for a writer-session challenge: one per digest (hex HMAC) or null where it has none. */
export const ProofsBody = Type.Object(
  {
    nonce: Type.String({ pattern: `^([0-9a-f]{2}){${LIMITS.minNonceBytes},${LIMITS.maxNonceBytes}}$` }),
    digests: Type.Array(DigestString, { maxItems: LIMITS.maxProveDigests }),
    proofs: Type.Array(Type.Union([Type.String({ pattern: '^[0-9a-f]{64}$' }), Type.Null()]), {
      maxItems: LIMITS.maxProveDigests,
    }),
  },
  strict,
);

// ---------------------------------------------------------------- response data (inside `{ "data": … }`)

export const UpidParams = Type.Object({ upid: Type.String({ maxLength: 512 }) }, strict);
export const TaskItem = Type.Object({
  id: Type.String(),
  type: Type.String(),
  subject: Type.String(),
  pid: Type.Integer(),
  pstart: Type.Optional(Type.Integer()),
  started: Type.String(),
  ended: Type.Optional(Type.String()),
  state: Type.Union(['running', 'ok', 'warnings', 'error', 'aborted'].map((s) => Type.Literal(s))),
  'exit-status': Type.Optional(Type.Integer()),
  message: Type.Optional(Type.String()),
});
/** `start`: the first log line to answer (0-based; PBS's `start`), so a follower asks only for what is new. */
export const TaskLogQuery = Type.Object({ start: Type.Optional(Type.Integer({ minimum: 0 })) }, strict);
/**
 * `start`: the line number of `log[0]` (absent from servers older than the query: then 0). `more`: the answer stopped
 * before the log's end (about 1 MiB of lines at most, TASK_LOG_ANSWER_BYTES): ask again from `start + log.length`.
 */
export const TaskLogData = Type.Object({
  task: TaskItem,
  log: Type.Array(Type.String()),
  start: Type.Optional(Type.Integer({ minimum: 0 })),
  more: Type.Optional(Type.Boolean()),
});

export const RemoteItem = Type.Object({
  name: Type.String(),
  host: Type.String(),
  port: Type.Union([Type.Integer(), Type.Null()]),
  'auth-id': Type.String(),
  fingerprint: Type.Union([Type.String(), Type.Null()]),
  scheme: Type.Union([Type.Literal('https'), Type.Literal('http')]),
  comment: Type.Union([Type.String(), Type.Null()]),
});
/** A sync job: its id and its sync.cfg keys (PBS's names: `store`, `remote`, `remote-store`, `worker-threads`, …). */
export const SyncJobItem = Type.Object(
  { id: Type.String(), store: Type.String(), 'remote-store': Type.String() },
  { additionalProperties: true },
);

/** A remote's settings as a request sets them; `password` is the token's secret (PBS's name), never sent back. */
const RemoteSettings = Type.Object({
  host: Type.String({ minLength: 1, maxLength: 255 }),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  'auth-id': Type.String({ minLength: 1, maxLength: 200 }),
  password: Type.String({ minLength: 1, maxLength: 4096 }),
  fingerprint: Type.Optional(Type.String({ maxLength: 200 })),
  comment: Type.Optional(Type.String({ maxLength: 1024 })),
  scheme: Type.Optional(Type.Union([Type.Literal('https'), Type.Literal('http')])),
});
export const RemoteCreateBody = Type.Object(
  { name: Type.String({ maxLength: 64 }), ...RemoteSettings.properties },
  strict,
);
/** Any of the settings, and `delete`: the optional ones to unset (as PBS's update calls take it). */
export const RemoteUpdateBody = Type.Object(
  {
    ...Type.Partial(RemoteSettings).properties,
    delete: Type.Optional(
      Type.Array(Type.Union((['port', 'fingerprint', 'comment'] as const).map((k) => Type.Literal(k))), {
        maxItems: 8,
      }),
    ),
  },
  strict,
);
export const RemoteParams = Type.Object({ name: Type.String({ maxLength: 64 }) }, strict);

/** A sync-job value as JSON carries it: a string, number or boolean, or a list of strings (`group-filter`). */
const SyncJobValue = Type.Union([
  Type.String({ maxLength: 1100 }),
  Type.Number(),
  Type.Boolean(),
  Type.Array(Type.String({ maxLength: 1100 }), { maxItems: 64 }),
]);
/**
 * A sync job's keys as in sync.cfg (`store`, `remote-store`, `worker-threads`, …); which keys exist and what each
 * takes is checked by the server against sync.cfg's own schema, with the same messages as the file.
 */
export const SyncJobCreateBody = Type.Object(
  { id: Type.String({ maxLength: 64 }) },
  { additionalProperties: SyncJobValue, maxProperties: 40 },
);
export const SyncJobUpdateBody = Type.Object(
  { delete: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 40 })) },
  { additionalProperties: SyncJobValue, maxProperties: 40 },
);
export const SyncJobParams = Type.Object({ id: Type.String({ maxLength: 64 }) }, strict);

export const SpeedtestQuery = Type.Object(
  { bytes: Type.Integer({ minimum: 1, maximum: LIMITS.maxSpeedtestBytes }) },
  strict,
);
export const SpeedtestData = Type.Object({ bytes: Type.Integer({ minimum: 0 }) });

export const VersionData = Type.Object({
  version: Type.String(),
  release: Type.String(),
  repoid: Type.String(),
  product: Type.Literal('ferry'),
  'api-version': Type.Integer(),
});
export const DatastoreItem = Type.Object({
  store: Type.String(),
  comment: Type.Optional(Type.String()),
  /** PBS's field: the datastore's maintenance mode as datastore.cfg has it (`type=read-only,message=…`). */
  maintenance: Type.Optional(Type.String()),
});
export const NamespaceItem = Type.Object({ ns: Type.String() });
export const GroupItem = Type.Object({
  'backup-type': Type.String(),
  'backup-id': Type.String(),
  owner: Type.Optional(Type.String()),
  'backup-count': Type.Integer({ minimum: 0 }),
  'last-backup': Type.Optional(BackupTime),
});
export const SnapshotFileItem = Type.Object({
  filename: Type.String(),
  size: Type.Optional(Type.Integer({ minimum: 0 })),
  'crypt-mode': Type.Optional(CryptModeString),
});
export const SnapshotItem = Type.Object({
  'backup-type': Type.String(),
  'backup-id': Type.String(),
  'backup-time': BackupTime,
  files: Type.Array(SnapshotFileItem),
  /** Absent for an in-progress snapshot (PBS's convention), which also says `in-progress: true`. */
  size: Type.Optional(Type.Integer({ minimum: 0 })),
  'in-progress': Type.Boolean(),
  protected: Type.Boolean(),
  /** SHA-256 of the manifest without its unprotected part (Ferry): a re-sync compares it instead of downloading. */
  'protected-csum': Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  verification: Type.Optional(
    Type.Object({ state: Type.Union([Type.Literal('ok'), Type.Literal('failed')]) }),
  ),
});
/** `GET …/status`: PBS's `total`, `used`, `avail` and `counts`, and the chunk store behind the deduplication factor. */
export const DatastoreStatusData = Type.Object({
  total: Type.Integer({ minimum: 0 }),
  used: Type.Integer({ minimum: 0 }),
  avail: Type.Integer({ minimum: 0 }),
  namespaces: Type.Integer({ minimum: 0 }),
  counts: Type.Record(
    Type.String(),
    Type.Object({ groups: Type.Integer({ minimum: 0 }), snapshots: Type.Integer({ minimum: 0 }) }),
  ),
  'logical-bytes': Type.Integer({ minimum: 0 }),
  chunks: Type.Integer({ minimum: 0 }),
  'chunk-bytes': Type.Integer({ minimum: 0 }),
  'plain-chunk-bytes': Type.Integer({ minimum: 0 }),
  'dedup-factor': Type.Optional(Type.Number({ minimum: 0 })),
});

export const NamespaceDeleteData = Type.Object({
  'removed-groups': Type.Integer({ minimum: 0 }),
  'protected-kept': Type.Integer({ minimum: 0 }),
});
export const GroupDeleteData = Type.Object({
  'removed-snapshots': Type.Integer({ minimum: 0 }),
  'protected-kept': Type.Integer({ minimum: 0 }),
});
/** One snapshot of a prune, newest first: PBS's fields (`keep`, `protected`) and why, and what became of it. */
export const PruneItem = Type.Object({
  'backup-type': BackupType,
  'backup-id': BackupId,
  'backup-time': BackupTime,
  keep: Type.Boolean(),
  protected: Type.Boolean(),
  mark: Type.Union([
    Type.Literal('keep'),
    Type.Literal('protected'),
    Type.Literal('keep-partial'),
    Type.Literal('remove'),
  ]),
  reason: Type.Optional(Type.String({ maxLength: 32 })),
  removed: Type.Boolean(),
  error: Type.Optional(Type.Object({ code: Type.String({ maxLength: 64 }), message: Type.String() })),
});
export const ReaderOpenData = Type.Object({
  session: Type.String({ pattern: '^[0-9a-f]{32}$' }),
  /** The prefetched files the server could send, base64, each as its download would have returned it. */
  files: Type.Optional(
    Type.Array(Type.Object({ 'file-name': FileName, data: Type.String() }), {
      maxItems: LIMITS.maxPrefetchFiles,
    }),
  ),
});
export const WriterOpenData = Type.Object({
  session: Type.String({ pattern: '^[0-9a-f]{32}$' }),
  'previous-time': Type.Union([BackupTime, Type.Null()]),
});
export const KnownData = Type.Array(Type.Boolean(), { maxItems: LIMITS.maxBatchDigests });
export const ProveData = Type.Array(Type.Union([Type.String({ pattern: '^[0-9a-f]{64}$' }), Type.Null()]), {
  maxItems: LIMITS.maxProveDigests,
});
export const ChallengeData = Type.Object({ nonce: Type.String({ pattern: '^[0-9a-f]{64}$' }) });
export const AcceptedData = Type.Array(Type.Boolean(), { maxItems: LIMITS.maxProveDigests });
export const UploadData = Type.Object({
  chunks: Type.Integer({ minimum: 0 }),
  'new-chunks': Type.Integer({ minimum: 0 }),
  bytes: Type.Integer({ minimum: 0 }),
});
export const EmptyData = Type.Null();

export type NamespaceListQuery = Static<typeof NamespaceListQuery>;
export type NamespaceCreateBody = Static<typeof NamespaceCreateBody>;
export type NamespaceDeleteQuery = Static<typeof NamespaceDeleteQuery>;
export type NsQuery = Static<typeof NsQuery>;
export type GroupQuery = Static<typeof GroupQuery>;
export type SnapshotsQuery = Static<typeof SnapshotsQuery>;
export type SnapshotQuery = Static<typeof SnapshotQuery>;
export type ReaderOpenBody = Static<typeof ReaderOpenBody>;
export type WriterOpenBody = Static<typeof WriterOpenBody>;
export type DownloadQuery = Static<typeof DownloadQuery>;
export type FileNameQuery = Static<typeof FileNameQuery>;
export type FileUploadQuery = Static<typeof FileUploadQuery>;
export type DigestListBody = Static<typeof DigestListBody>;
export type ProveBody = Static<typeof ProveBody>;
export type ProofsBody = Static<typeof ProofsBody>;
export type ChallengeData = Static<typeof ChallengeData>;
export type AcceptedData = Static<typeof AcceptedData>;
export type VersionData = Static<typeof VersionData>;
export type SpeedtestQuery = Static<typeof SpeedtestQuery>;
export type UpidParams = Static<typeof UpidParams>;
export type RemoteItem = Static<typeof RemoteItem>;
export type SyncJobItem = Static<typeof SyncJobItem> & { [key: string]: unknown };
export type RemoteCreateBody = Static<typeof RemoteCreateBody>;
export type RemoteUpdateBody = Static<typeof RemoteUpdateBody>;
export type RemoteParams = Static<typeof RemoteParams>;
type SyncJobValueT = Static<typeof SyncJobValue>;
export type SyncJobCreateBody = { id: string; [key: string]: SyncJobValueT };
export type SyncJobUpdateBody = { delete?: string[]; [key: string]: SyncJobValueT | undefined };
export type SyncJobParams = Static<typeof SyncJobParams>;
export type TaskItem = Static<typeof TaskItem>;
export type TaskLogData = Static<typeof TaskLogData>;
export type TaskLogQuery = Static<typeof TaskLogQuery>;
export type SpeedtestData = Static<typeof SpeedtestData>;
export type DatastoreItem = Static<typeof DatastoreItem>;
export type NamespaceItem = Static<typeof NamespaceItem>;
export type GroupItem = Static<typeof GroupItem>;
export type SnapshotItem = Static<typeof SnapshotItem>;
export type NamespaceDeleteData = Static<typeof NamespaceDeleteData>;
export type GroupDeleteData = Static<typeof GroupDeleteData>;
export type PruneBody = Static<typeof PruneBody>;
export type ProtectedBody = Static<typeof ProtectedBody>;
export type DatastoreStatusData = Static<typeof DatastoreStatusData>;
export type VerifyRunBody = Static<typeof VerifyRunBody>;
export type PruneItem = Static<typeof PruneItem>;
export type ReaderOpenData = Static<typeof ReaderOpenData>;
export type WriterOpenData = Static<typeof WriterOpenData>;
export type UploadData = Static<typeof UploadData>;
