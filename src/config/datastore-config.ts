import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { FerryError } from '../errors/index.js';
import { writeFileAtomic } from '../io/index.js';
import { parseCalendarEvent, parseStoreName, type StoreName } from '../model/index.js';
import { formatSectionConfig, readSectionConfigFile, type Section, sectionFields } from './section-config.js';

const DatastoreSchema = Type.Object(
  {
    path: Type.String({ minLength: 1, pattern: '^/' }),
    comment: Type.Optional(Type.String({ maxLength: 1024 })),
    /** When `ferry serve` runs garbage collection: a calendar event, as PBS's `gc-schedule`. */
    'gc-schedule': Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type DatastoreSettings = Static<typeof DatastoreSchema>;

export interface DatastoreEntry extends DatastoreSettings {
  name: StoreName;
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
    const schedule = values['gc-schedule'];
    if (schedule !== undefined)
      sectionFields(s, 'datastore')('gc-schedule', () => parseCalendarEvent(schedule));
    return { name: parseStoreName(s.id), ...values };
  });
}

export async function writeDatastoreConfig(home: string, entries: readonly DatastoreEntry[]): Promise<void> {
  const sections: Section[] = entries.map(({ name, ...values }) => ({ type: 'datastore', id: name, values }));
  await writeFileAtomic(datastoreConfigPath(home), Buffer.from(formatSectionConfig(sections)));
}

export async function lookupDatastore(home: string, name: string): Promise<DatastoreEntry> {
  const storeName = parseStoreName(name);
  const entry = (await readDatastoreConfig(home)).find((e) => e.name === storeName);
  if (!entry)
    throw new FerryError('FERRY_ERR_NOT_FOUND', `datastore ${storeName} is not configured`, {
      fields: { store: storeName },
    });
  return entry;
}
