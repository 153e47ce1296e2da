/**
 * sync — pull and push of backup groups between datastores, local or remote, with `worker-threads` real threads.
 *
 * The chain is the hierarchy: runSync (coordinator, main thread) → syncGroup (one task per group, on a worker) →
 * syncSnapshot → syncArchive → ChunkMover (chunks). Both directions run it over SyncSource/SyncTarget; local and
 * remote ends implement those.
 *
 * Invariants: a chunk is verified before it is stored; a chunk crosses the wire at most once per job (job-wide
 * claims; chunks this job stored are usable by its later groups); a chunk the target holds is reused only if the
 * group's last snapshot references it, this job brought it, or the source proves it holds it; nothing partial is
 * ever visible (snapshot writers publish the manifest last); a failed group never stops the others.
 *
 * Must not: read process.env or install signal handlers (the CLI passes an AbortSignal).
 */
export { ChunkClaims } from './chunk-claims.js';
export { ChunkMover, DEFAULT_TRANSFER, type MoveStats, type TransferOptions } from './chunk-mover.js';
export { type ProgressSnapshot, runSync, type SyncRunOptions, type SyncSummary } from './coordinator.js';
export {
  createRateBuffers,
  describeEndpoint,
  EndpointOpener,
  type EndpointSpec,
  type RateBuffers,
} from './endpoint-spec.js';
export type { GroupTask, GroupTaskResult, JobSpec } from './group-task.js';
export { LocalSource, LocalTarget } from './local-endpoints.js';
export { RemoteSource, RemoteTarget } from './remote-endpoints.js';
export { type Selection, type SelectionRules, selectSnapshots } from './snapshot-selection.js';
export { type GroupJob, type GroupLog, type GroupResult, syncGroup } from './sync-group.js';
export type {
  ChunkToStore,
  GroupListing,
  SnapshotListing,
  SourceGroupReader,
  SyncEndpoint,
  SyncSource,
  SyncTarget,
  TargetGroupWriter,
  TargetSnapshotWriter,
} from './sync-types.js';
