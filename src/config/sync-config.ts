import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { writeFileAtomic } from '../io/index.js';
import {
  type AuthId,
  type GroupFilter,
  MAX_NAMESPACE_DEPTH,
  type Namespace,
  parseAuthId,
  parseByteSize,
  parseCalendarEvent,
  parseGroupFilter,
  parseNamespace,
  parseStoreName,
  type StoreName,
} from '../model/index.js';
import {
  formatSectionConfig,
  parseSectionConfig,
  parseSectionValues,
  readSectionConfigFile,
  type Section,
  sectionFields,
} from './section-config.js';

/** The keys of a PBS sync job, as they appear in sync.cfg (and as `--key value` options on the command line). */
export const SyncJobSchema = Type.Object(
  {
    store: Type.String({ minLength: 3, maxLength: 32 }),
    ns: Type.Optional(Type.String({ maxLength: 256 })),
    remote: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    'remote-store': Type.String({ minLength: 3, maxLength: 32 }),
    'remote-ns': Type.Optional(Type.String({ maxLength: 256 })),
    'remove-vanished': Type.Optional(Type.Boolean()),
    'max-depth': Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_NAMESPACE_DEPTH })),
    owner: Type.Optional(Type.String({ minLength: 3, maxLength: 128 })),
    'group-filter': Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1100 }))),
    'transfer-last': Type.Optional(Type.Integer({ minimum: 1 })),
    'rate-in': Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    'burst-in': Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    'rate-out': Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    'burst-out': Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    schedule: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    comment: Type.Optional(Type.String({ maxLength: 1024, pattern: '^[^\\n]*$' })),
    'sync-direction': Type.Optional(Type.Union([Type.Literal('pull'), Type.Literal('push')])),
    'verified-only': Type.Optional(Type.Boolean()),
    'encrypted-only': Type.Optional(Type.Boolean()),
    'resync-corrupt': Type.Optional(Type.Boolean()),
    'worker-threads': Type.Optional(Type.Integer({ minimum: 1, maximum: 32 })),
  },
  { additionalProperties: false },
);
export type SyncJobValues = Static<typeof SyncJobSchema>;

/** A sync job with every value parsed and defaults applied. */
export interface SyncJob {
  id: string;
  store: StoreName;
  ns: Namespace;
  /** Absent: a local sync between two datastores of this host. */
  remote: string | undefined;
  remoteStore: StoreName;
  remoteNs: Namespace;
  removeVanished: boolean;
  /** Absent: full depth. */
  maxDepth: number | undefined;
  owner: AuthId;
  groupFilter: GroupFilter[];
  transferLast: number | undefined;
  rateIn: { rate: number; burst: number } | undefined;
  rateOut: { rate: number; burst: number } | undefined;
  schedule: string | undefined;
  comment: string | undefined;
  direction: 'pull' | 'push';
  verifiedOnly: boolean;
  encryptedOnly: boolean;
  resyncCorrupt: boolean;
  workerThreads: number;
  /** The raw values, for writing the job back. */
  values: SyncJobValues;
}

const SCHEMAS = { sync: SyncJobSchema };

export function syncConfigPath(home: string): string {
  return join(home, 'sync.cfg');
}

function rate(values: SyncJobValues, rateKey: 'rate-in' | 'rate-out', burstKey: 'burst-in' | 'burst-out') {
  const r = values[rateKey];
  if (r === undefined) return undefined;
  const bytes = parseByteSize(r);
  const burst = values[burstKey] === undefined ? bytes : parseByteSize(values[burstKey]);
  return { rate: bytes, burst: Math.max(burst, 1) };
}

/** Turns validated section values into a SyncJob; a bad value names the file, line and key. */
export function toSyncJob(id: string, values: SyncJobValues, origin?: Section['origin']): SyncJob {
  const field = sectionFields({ type: 'sync', id, ...(origin ? { origin } : {}) }, 'sync job');
  const job: SyncJob = {
    id,
    store: field('store', () => parseStoreName(values.store)),
    ns: field('ns', () => parseNamespace(values.ns ?? '')),
    remote: values.remote,
    remoteStore: field('remote-store', () => parseStoreName(values['remote-store'])),
    remoteNs: field('remote-ns', () => parseNamespace(values['remote-ns'] ?? '')),
    removeVanished: values['remove-vanished'] ?? false,
    maxDepth: values['max-depth'],
    owner: field('owner', () => parseAuthId(values.owner ?? 'root@pam')),
    groupFilter: field('group-filter', () => (values['group-filter'] ?? []).map(parseGroupFilter)),
    transferLast: values['transfer-last'],
    rateIn: field('rate-in', () => rate(values, 'rate-in', 'burst-in')),
    rateOut: field('rate-out', () => rate(values, 'rate-out', 'burst-out')),
    schedule: field('schedule', () =>
      values.schedule === undefined ? undefined : parseCalendarEvent(values.schedule).text,
    ),
    comment: values.comment,
    direction: values['sync-direction'] ?? 'pull',
    verifiedOnly: values['verified-only'] ?? false,
    encryptedOnly: values['encrypted-only'] ?? false,
    resyncCorrupt: values['resync-corrupt'] ?? false,
    workerThreads: values['worker-threads'] ?? 1,
    values,
  };
  if (job.remote === undefined && job.store === job.remoteStore) {
    field('remote-store', () => {
      throw new Error("can't sync to same datastore");
    });
  }
  return job;
}

export function parseSyncConfig(text: string, file: string): SyncJob[] {
  return parseSectionConfig(text, file, SCHEMAS).map((s) =>
    toSyncJob(s.id, s.values as SyncJobValues, s.origin),
  );
}

export async function readSyncConfig(home: string): Promise<SyncJob[]> {
  const path = syncConfigPath(home);
  return (await readSectionConfigFile(path, SCHEMAS)).map((s) =>
    toSyncJob(s.id, s.values as SyncJobValues, s.origin),
  );
}

export async function writeSyncConfig(home: string, jobs: readonly SyncJob[]): Promise<void> {
  const sections: Section[] = jobs.map((j) => ({ type: 'sync', id: j.id, values: j.values }));
  await writeFileAtomic(syncConfigPath(home), Buffer.from(formatSectionConfig(sections)));
}

/**
 * Checks a job's keys given as `--key value` options or in a request's JSON against sync.cfg's schema, by the same
 * reading as the file: the same conversions and the same messages, without a file and line to name.
 */
export function validateSyncJobValues(id: string, values: Record<string, unknown>): SyncJob {
  return parseSectionValues('sync', id, values, parseSyncConfig);
}
