import type { MessagePort } from 'node:worker_threads';
import type { WireError } from '../errors/index.js';
import type { BackupType } from '../model/index.js';
import type { TransferOptions } from './chunk-mover.js';
import type { EndpointSpec, RateBuffers } from './endpoint-spec.js';
import type { SelectionRules } from './snapshot-selection.js';
import type { GroupResult } from './sync-group.js';
import type { SnapshotListing } from './sync-types.js';

/** What the coordinator tells every group task of a job (plain data). */
export interface JobSpec {
  jobToken: number;
  owner: string;
  source: EndpointSpec;
  target: EndpointSpec;
  rules: SelectionRules & { removeVanished: boolean; resyncCorrupt: boolean };
  transfer: TransferOptions;
  /** The job's shared rate-limit budgets. */
  rates: RateBuffers;
}

/** One task = one group, run by workers/sync-group.worker.ts. */
export interface GroupTask {
  job: JobSpec;
  sourceNs: string;
  targetNs: string;
  group: { type: BackupType; id: string };
  /** The group's source snapshots as the coordinator listed them; absent: the group lists them itself. */
  sourceListing?: SnapshotListing[];
  /** Progress slot of this task. */
  slot: number;
  progress: SharedArrayBuffer;
  claims: SharedArrayBuffer;
  /** Int32 flag: 1 = the job is being aborted. */
  control: SharedArrayBuffer;
  /** Lines and the end-of-group flush go to the coordinator's log aggregator. */
  log: MessagePort;
}

export type GroupTaskResult = { ok: true; result: GroupResult } | { ok: false; error: WireError };
