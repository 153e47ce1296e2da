/**
 * protocol — the HTTP contract between `ferry serve` (src/server) and its client (src/remote): route paths,
 * TypeBox schemas of parameters, bodies and response data, the size limits, the chunk-frame codec for batch
 * transfers, the JSON error body and the one table from error codes to HTTP statuses.
 *
 * Invariants: both sides import these definitions instead of restating them; an error's code, context and fields
 * cross the network unchanged (server: `errorBody`, client: `errorFromBody`); every limit the server enforces is a
 * constant here, so the client plans its batches within it.
 *
 * Must not: do I/O, open sockets, or import store, server or remote (pure code both sides share).
 */
export {
  type ChunkFrame,
  ChunkFrameDecoder,
  ChunkFrameSink,
  encodeFrameHeader,
  encodeFrames,
  FRAME_HEADER_SIZE,
  type FrameLimits,
  type FrameStatus,
  readChunkFrames,
} from './chunk-frame.js';
export { type ErrorBody, errorBody, errorFromBody } from './error-body.js';
export { codeForHttpStatus, httpStatusFor, isRetryableStatus } from './http-status.js';
export { LIMITS } from './limits.js';
export {
  checkResponse,
  groupFromWire,
  groupToWire,
  namespaceFromWire,
  namespaceToWire,
  pruneOutcomeFromWire,
  pruneOutcomeToWire,
  type RemoteGroup,
  type RemoteSnapshot,
  type RemoteSnapshotFile,
  snapshotFromWire,
  snapshotToWire,
  statusToWire,
} from './listing.js';
export {
  API_PREFIX,
  AUTH_SCHEME,
  authorizationHeader,
  CONTENT_TYPE,
  JOB_RUN_ROUTES,
  ROUTES,
  type RouteName,
  type RunnableJobKind,
  routePath,
} from './routes.js';
export {
  AcceptedData,
  ChallengeData,
  DatastoreItem,
  DatastoreStatusData,
  DigestListBody,
  DownloadQuery,
  EmptyData,
  FileNameQuery,
  FileUploadQuery,
  GroupDeleteData,
  GroupItem,
  GroupQuery,
  KnownData,
  NamespaceCreateBody,
  NamespaceDeleteData,
  NamespaceDeleteQuery,
  NamespaceItem,
  NamespaceListQuery,
  NsQuery,
  ProofsBody,
  ProtectedBody,
  ProveBody,
  ProveData,
  PruneBody,
  PruneItem,
  ReaderOpenBody,
  ReaderOpenData,
  RemoteCreateBody,
  RemoteItem,
  RemoteParams,
  RemoteUpdateBody,
  SessionParams,
  SnapshotFileItem,
  SnapshotItem,
  SnapshotQuery,
  SnapshotsQuery,
  SpeedtestData,
  SpeedtestQuery,
  StoreParams,
  SyncJobCreateBody,
  SyncJobItem,
  SyncJobParams,
  SyncJobUpdateBody,
  TaskItem,
  TaskLogData,
  TaskLogQuery,
  UpidParams,
  UploadData,
  VerifyRunBody,
  VersionData,
  WriterOpenBody,
  WriterOpenData,
} from './schemas.js';
