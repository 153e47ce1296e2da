/**
 * remote — the undici client of `ferry serve`: FerryClient (listing, namespaces, groups, snapshots) and its reader
 * and writer sessions, over one Pool per client with keep-alive connections, TLS pinned to the server certificate's
 * fingerprint, connect/request timeouts, retries with backoff for idempotent requests, and token-bucket rate limits
 * that several clients in different threads can share (SharedRateLimiter over a SharedArrayBuffer).
 *
 * Invariants: the fingerprint is checked before undici gets the socket, so a mismatch sends no request; server
 * errors come back as FerryError with the server's code, context and fields; names in responses pass the model
 * parsers before a caller sees them; batch requests run concurrently, one per pool connection, never serialised.
 *
 * Must not: import store, server, sync or cli; touch the disk (the sync engine stores what the client fetches and
 * verifies every chunk); read process.env.
 */
export {
  type DatastoreInfo,
  FerryClient,
  type FerryClientOptions,
  remoteConnection,
} from './ferry-client.js';
export { type FetchOptions, type OnChunk, type ReaderPrefetch, ReaderSession } from './reader-session.js';
export { type RateLimit, SharedRateLimiter } from './shared-rate-limiter.js';
export type { TransportStats } from './transport.js';
export { type ChunkUpload, type UploadStats, WriterSession } from './writer-session.js';
