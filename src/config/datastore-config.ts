import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { FerryError } from '../errors/index.js';
import { writeFileAtomic } from '../io/index.js';
import { parseCalendarEvent, parseStoreName, type StoreName } from '../model/index.js';
import {
  checkMaintenance,
  type DatastoreAccess,
  type MaintenanceMode,
  parseMaintenanceMode,
} from './maintenance-mode.js';
import { formatSectionConfig, readSectionConfigFile, type Section, sectionFields } from './section-config.js';

const DatastoreSchema = Type.Object(
  {
    path: Type.String({ minLength: 1, pattern: '^/' }),
    comment: Type.Optional(Type.String({ maxLength: 1024 })),
    /** When `ferry serve` runs garbage collection: a calendar event, as PBS's `gc-schedule`. */
    'gc-schedule': Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** PBS's `maintenance-mode`: `type=read-only|offline[,message=TEXT]` (maintenance-mode.ts). */
    'maintenance-mode': Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type DatastoreSettings = Static<typeof DatastoreSchema>;

export interface DatastoreEntry extends DatastoreSettings {
  name: StoreName;
}

/** The entry's maintenance mode, if it has one (its text was checked when the file was read). */
export function maintenanceOf(entry: DatastoreEntry): MaintenanceMode | undefined {
  const text = entry['maintenance-mode'];
  return text === undefined ? undefined : parseMaintenanceMode(text);
}

const SCHEMAS = { datastore: DatastoreSchema };

export function datastoreConfigPath(home: string): string {
  return join(home, 'datastore.cfg');
}

/** `$FERRY_HOME/datastore.cfg`: datastore name → directory. */
export async function readDatastoreConfig(home: string): Promise<DatastoreEntry[]> {
  const sections = await readSectionConfigFile(datastoreConfigPath(home), SCHEMAS);
  return sections.map((s) => {
    const values = s.values as DatastoreSettings;
    const field = sectionFields(s, 'datastore');
    const schedule = values['gc-schedule'];
    if (schedule !== undefined) field('gc-schedule', () => parseCalendarEvent(schedule));
    const mode = values['maintenance-mode'];
    if (mode !== undefined) field('maintenance-mode', () => parseMaintenanceMode(mode));
    return { name: parseStoreName(s.id), ...values };
  });
}

export async function writeDatastoreConfig(home: string, entries: readonly DatastoreEntry[]): Promise<void> {
  const sections: Section[] = entries.map(({ name, ...values }) => ({ type: 'datastore', id: name, values }));
  await writeFileAtomic(datastoreConfigPath(home), Buffer.from(formatSectionConfig(sections)));
}

/**
 * The configured datastore `name`, for an operation that will `access` it: refused (FERRY_ERR_MAINTENANCE) when its
 * maintenance mode does not allow that; `what` names the operation in the refusal.
 */
export async function lookupDatastore(
  home: string,
  name: string,
  access: DatastoreAccess,
  what?: string,
): Promise<DatastoreEntry> {
  const storeName = parseStoreName(name);
  const entry = requireDatastore(await readDatastoreConfig(home), storeName);
  checkMaintenance(storeName, maintenanceOf(entry), access, what);
  return entry;
}

/** The entry of datastore `name` among `entries`; FERRY_ERR_NOT_FOUND when it is not configured. */
export function requireDatastore(entries: readonly DatastoreEntry[], name: StoreName): DatastoreEntry {
  const entry = entries.find((e) => e.name === name);
  if (!entry)
    throw new FerryError('FERRY_ERR_NOT_FOUND', `datastore ${name} is not configured`, {
      fields: { store: name },
    });
  return entry;
}
