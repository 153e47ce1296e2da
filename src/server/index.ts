/**
 * server — `ferry serve`: the HTTPS API (fastify, logging through pino) over the datastores of `$FERRY_HOME`, used
 * by remote pulls and pushes, the CLI and scripts. Routes: docs/API.md; the contract shared with the client lives
 * in src/protocol.
 *
 * Invariants
 * - Every request is authenticated (API token, scrypt-hashed secret, cached per header) before its body is read,
 *   and every route checks the role it needs on `/datastore/<store>[/<ns…>]` before it touches the datastore; what
 *   is the host's (remotes, sync jobs, running configured jobs, the tasks of no datastore) needs admin on `/`; a task
 *   of a datastore, the role on that datastore, decided from the task's id before its record is read.
 * - Names, paths and sizes are validated at the edge: TypeBox schemas for shape, the model parsers for names;
 *   bodies and batches are bounded (src/protocol/limits.ts); errors are JSON with a stable code.
 * - A reader session serves chunks only for digests registered by an index it downloaded; a writer session verifies
 *   every chunk it receives and publishes only through SnapshotWriter (manifest last). A session that ends without
 *   `finish` leaves nothing visible and releases its group lock.
 * - Secrets are never logged; request logging is off, errors are logged once in the error handler (5xx).
 *
 * Must not: import sync, remote or cli; write datastore files by hand (store does that); read process.env.
 */
export {
  certificateFingerprint,
  ensureCertificate,
  readCertificate,
  type ServerCertificate,
} from './certificate.js';
export {
  DEFAULT_SERVER_LIMITS,
  type FerryServer,
  type ServerLimits,
  type ServerOptions,
  type ServerStats,
  startServer,
} from './ferry-server.js';
export type { JobRunner, VerifyRun } from './job-routes.js';
