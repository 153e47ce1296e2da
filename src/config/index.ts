/**
 * config — Ferry's configuration files in `$FERRY_HOME`, in PBS's section-config format: `datastore.cfg`,
 * `remote.cfg`, `sync.cfg`, tokens and ACLs. Typed with TypeBox schemas; every error names file, line and key.
 *
 * Must not: read process.env or process.argv (the CLI passes `home`), or print secrets.
 */
export {
  type DatastoreEntry,
  type DatastoreSettings,
  datastoreConfigPath,
  lookupDatastore,
  readDatastoreConfig,
  writeDatastoreConfig,
} from './datastore-config.js';
export {
  formatSectionConfig,
  parseSectionConfig,
  readSectionConfigFile,
  type Section,
  type SectionSchemas,
} from './section-config.js';
export {
  parseSyncConfig,
  readSyncConfig,
  type SyncJob,
  SyncJobSchema,
  type SyncJobValues,
  syncConfigPath,
  toSyncJob,
  validateSyncJobValues,
  writeSyncConfig,
} from './sync-config.js';
