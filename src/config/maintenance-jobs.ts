import { join } from 'node:path';
import { type Static, type TObject, Type } from '@sinclair/typebox';
import { FerryError } from '../errors/index.js';
import { writeFileAtomic } from '../io/index.js';
import {
  checkSafeId,
  KEEP_OPTIONS,
  type KeepOptions,
  MAX_KEEP,
  MAX_NAMESPACE_DEPTH,
  type Namespace,
  parseCalendarEvent,
  parseNamespace,
  parseStoreName,
  type StoreName,
} from '../model/index.js';
import { jobName } from './job-state.js';
import {
  formatSectionConfig,
  parseSectionConfig,
  parseSectionValues,
  readSectionConfigFile,
  type Section,
  sectionFields,
} from './section-config.js';

/**
 * Prune jobs (`prune.cfg`) and verify jobs (`verification.cfg`): a datastore's retention and its verification, run
 * by `ferry serve` on their schedule (or by hand: `ferry prune-job run`, `ferry verify-job run`). Keys and ranges as
 * in PBS's PruneJobConfig and VerificationJobConfig; a bad key or value is refused with its file, line and key.
 * Changes go through the file's lock (config-edit.ts), as every config change does.
 */

const common = {
  store: Type.String({ minLength: 3, maxLength: 32 }),
  ns: Type.Optional(Type.String({ maxLength: 256 })),
  'max-depth': Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_NAMESPACE_DEPTH })),
  comment: Type.Optional(Type.String({ maxLength: 1024, pattern: '^[^\\n]*$' })),
};

/** A keep count: PBS's range (at least 1; leave the key out to keep none by that rule). */
const keepCount = () => Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_KEEP }));
const keepKeys = {
  'keep-last': keepCount(),
  'keep-hourly': keepCount(),
  'keep-daily': keepCount(),
  'keep-weekly': keepCount(),
  'keep-monthly': keepCount(),
  'keep-yearly': keepCount(),
};

export const PruneJobSchema = Type.Object(
  {
    ...common,
    ...keepKeys,
    // PBS requires a prune job's schedule: a prune job is its schedule.
    schedule: Type.String({ minLength: 1, maxLength: 128 }),
    disable: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const VerifyJobSchema = Type.Object(
  {
    ...common,
    'ignore-verified': Type.Optional(Type.Boolean()),
    'outdated-after': Type.Optional(Type.Integer({ minimum: 0, maximum: 36_500 })),
    schedule: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);

export type MaintenanceKind = 'prune' | 'verify';

/** One prune or verify job, every value parsed. */
export interface MaintenanceJob {
  kind: MaintenanceKind;
  id: string;
  store: StoreName;
  ns: Namespace;
  /** Namespace levels below `ns` included; undefined: all. */
  maxDepth: number | undefined;
  schedule: string | undefined;
  /** A disabled job is not scheduled (PBS's `disable`); it still runs by hand. */
  disabled: boolean;
  comment: string | undefined;
  /** Prune jobs: the keep options. */
  keep: KeepOptions;
  /** Verify jobs: skip snapshots whose last verification passed (PBS's default: true). */
  ignoreVerified: boolean;
  /** Verify jobs: with ignoreVerified, verify again after this many days. */
  outdatedAfterDays: number | undefined;
  /** The raw values, for writing the job back. */
  values: Record<string, unknown>;
}

interface KindSpec {
  /** Section type and file. */
  section: 'prune' | 'verification';
  file: string;
  schema: TObject;
  what: string;
}

const KINDS: Readonly<Record<MaintenanceKind, KindSpec>> = {
  prune: { section: 'prune', file: 'prune.cfg', schema: PruneJobSchema, what: 'prune job' },
  verify: { section: 'verification', file: 'verification.cfg', schema: VerifyJobSchema, what: 'verify job' },
};

/** The config file a kind's changes lock (`withConfigLocks`). */
export function maintenanceConfigFile(kind: MaintenanceKind): 'prune' | 'verification' {
  return KINDS[kind].section;
}

/** The keys of a kind's jobs, for checking what a change names (`delete`). */
export function maintenanceJobKeys(kind: MaintenanceKind): string[] {
  return Object.keys(KINDS[kind].schema.properties);
}

export function maintenanceConfigPath(home: string, kind: MaintenanceKind): string {
  return join(home, KINDS[kind].file);
}

export function parseMaintenanceJobId(kind: MaintenanceKind, value: unknown): string {
  return checkSafeId(`${KINDS[kind].what} id`, value, 32);
}

function toJob(kind: MaintenanceKind, section: Section): MaintenanceJob {
  const values = section.values as Static<typeof PruneJobSchema> & Static<typeof VerifyJobSchema>;
  const { id } = section;
  const field = sectionFields(section, KINDS[kind].what);
  const keep: KeepOptions = {};
  if (kind === 'prune') {
    for (const o of KEEP_OPTIONS) {
      const n = (values as Record<string, unknown>)[`keep-${o}`];
      if (typeof n === 'number') keep[o] = n;
    }
  }
  return {
    kind,
    id: field('id', () => parseMaintenanceJobId(kind, id)),
    store: field('store', () => parseStoreName(values.store)),
    ns: field('ns', () => parseNamespace(values.ns ?? '')),
    maxDepth: values['max-depth'],
    schedule: field('schedule', () =>
      values.schedule === undefined ? undefined : parseCalendarEvent(values.schedule).text,
    ),
    disabled: values.disable ?? false,
    comment: values.comment,
    keep,
    ignoreVerified: values['ignore-verified'] ?? true,
    outdatedAfterDays: values['outdated-after'],
    values: values as Record<string, unknown>,
  };
}

export function parseMaintenanceConfig(kind: MaintenanceKind, text: string, file: string): MaintenanceJob[] {
  const spec = KINDS[kind];
  return parseSectionConfig(text, file, { [spec.section]: spec.schema }).map((s) => toJob(kind, s));
}

export async function readMaintenanceJobs(home: string, kind: MaintenanceKind): Promise<MaintenanceJob[]> {
  const spec = KINDS[kind];
  const sections = await readSectionConfigFile(maintenanceConfigPath(home, kind), {
    [spec.section]: spec.schema,
  });
  return sections.map((s) => toJob(kind, s));
}

export async function writeMaintenanceJobs(
  home: string,
  kind: MaintenanceKind,
  jobs: readonly MaintenanceJob[],
): Promise<void> {
  const section = KINDS[kind].section;
  const text = formatSectionConfig(jobs.map((j) => ({ type: section, id: j.id, values: j.values })));
  await writeFileAtomic(maintenanceConfigPath(home, kind), Buffer.from(text));
}

/** Checks a job's keys (strings as on the command line, or typed as in JSON) by the same reading as the file. */
export function validateMaintenanceJob(
  kind: MaintenanceKind,
  id: string,
  values: Record<string, unknown>,
): MaintenanceJob {
  return parseSectionValues(KINDS[kind].section, id, values, (text, file) =>
    parseMaintenanceConfig(kind, text, file),
  );
}

export async function findMaintenanceJob(
  home: string,
  kind: MaintenanceKind,
  id: string,
): Promise<{ jobs: MaintenanceJob[]; job: MaintenanceJob }> {
  const jobId = parseMaintenanceJobId(kind, id);
  const jobs = await readMaintenanceJobs(home, kind);
  const job = jobs.find((j) => j.id === jobId);
  if (!job)
    throw new FerryError('FERRY_ERR_NOT_FOUND', `${jobName(kind, jobId)} does not exist`, {
      fields: { job: jobId },
    });
  return { jobs, job };
}

export async function lookupMaintenanceJob(
  home: string,
  kind: MaintenanceKind,
  id: string,
): Promise<MaintenanceJob> {
  return (await findMaintenanceJob(home, kind, id)).job;
}
