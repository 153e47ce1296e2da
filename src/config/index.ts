/**
 * config — Ferry's configuration files in `$FERRY_HOME`, in PBS's section-config format: `datastore.cfg`,
 * `remote.cfg`, `sync.cfg`; the node's settings (`node.cfg`, PBS's plain `key: value` lines); plus the API tokens
 * (`token.shadow`, scrypt hashes only) and the ACLs (`acl.cfg`).
 * Typed with TypeBox schemas; every error names file, line and key. Files holding secrets are written mode 0600.
 *
 * Must not: read process.env or process.argv (the CLI passes `home`), or print or log secrets.
 */
export {
  type AclEntry,
  aclConfigPath,
  aclPathFor,
  formatAclConfig,
  hasAnyRoleWithin,
  leastRoleWithin,
  parseAclConfig,
  parseAclPath,
  parseRole,
  ROLES,
  type Role,
  readAclConfig,
  roleAllows,
  roleAt,
  writeAclConfig,
} from './acl-config.js';
export {
  addRemote,
  type ConfigFile,
  createMaintenanceJob,
  createSyncJob,
  lookupSyncJob,
  parseSyncJobId,
  removeDatastoreEntry,
  removeMaintenanceJob,
  removeRemote,
  removeSyncJob,
  SYNC_JOB_KEYS,
  updateDatastoreEntry,
  updateMaintenanceJob,
  updateRemote,
  updateSyncJob,
  withConfigLocks,
} from './config-edit.js';
export {
  type DatastoreEntry,
  type DatastoreSettings,
  datastoreConfigPath,
  lookupDatastore,
  maintenanceOf,
  readDatastoreConfig,
  writeDatastoreConfig,
} from './datastore-config.js';
export {
  type HostPort,
  hostForUrl,
  isLoopbackHost,
  parseHost,
  parseHostPort,
  parsePort,
} from './host-address.js';
export {
  type JobKind,
  type JobRef,
  type JobRun,
  type JobState,
  jobName,
  jobStatesDir,
  lockJob,
  nextRunBase,
  noteJobSeen,
  readJobState,
  recordJobRun,
  removeJobState,
} from './job-state.js';
export {
  lookupMaintenanceJob,
  type MaintenanceJob,
  type MaintenanceKind,
  maintenanceConfigPath,
  maintenanceJobKeys,
  PruneJobSchema,
  readMaintenanceJobs,
  VerifyJobSchema,
} from './maintenance-jobs.js';
export {
  checkMaintenance,
  type DatastoreAccess,
  formatMaintenanceMode,
  type MaintenanceMode,
  type MaintenanceType,
  parseMaintenanceMode,
} from './maintenance-mode.js';
export {
  formatNodeConfig,
  NODE_CONFIG_KEYS,
  type NodeConfig,
  type NodeConfigKey,
  nodeConfigPath,
  parseNodeConfig,
  parseNodeConfigValue,
  readNodeConfig,
  writeNodeConfig,
} from './node-config.js';
export {
  checkRemoteEntry,
  DEFAULT_REMOTE_PORT,
  lookupRemote,
  newRemote,
  type PublicRemote,
  parseFingerprint,
  parseRemoteName,
  publicRemote,
  type RemoteEntry,
  type RemoteSettingsInput,
  readRemoteConfig,
  remoteConfigPath,
  remoteUrl,
  withRemoteSettings,
  writeRemoteConfig,
} from './remote-config.js';
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
export {
  datastoreOfTask,
  datastoreTaskSubject,
  listTasks,
  processStart,
  pruneTasks,
  readTask,
  readTaskLogLines,
  readTaskRecord,
  stopTask,
  TASK_ID_RE,
  TaskLogTail,
  type TaskRecord,
  type TaskState,
  taskIdSubject,
  tasksDir,
} from './tasks.js';
export {
  parseTokenConfig,
  parseTokenId,
  readTokenConfig,
  SECRET_FILE_MODE,
  type TokenEntry,
  tokenConfigPath,
  writeTokenConfig,
} from './token-config.js';
export { generateTokenSecret, hashTokenSecret, verifyTokenSecret } from './token-secret.js';
