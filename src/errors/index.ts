/**
 * errors — the bottom layer: the FerryError class, the code catalogue, context frames, and the wire form of errors.
 *
 * Invariants: every error Ferry reports has a stable `code` from `ERROR_CODES`; each level of a call chain adds one
 * "noun id" frame (`group vm/100`, `snapshot …`, `archive …`, `chunk …`) so messages read
 * `group vm/100: snapshot 2026-01-01T00:00:00Z: archive drive-scsi0.img.fidx: chunk 3fa1c0ff: digest mismatch`.
 * Typed errors do not survive `postMessage` or HTTP: use `serializeError` / `deserializeError` at those borders.
 *
 * Must not: import any other Ferry module, do I/O, or know about HTTP statuses or exit codes (those are mapped in
 * `src/protocol` and `src/cli` from an error's kind).
 */
export { ERROR_CODES, type ErrorCode, type ErrorKind, isErrorCode, kindOf } from './codes.js';
export {
  addFrame,
  deserializeError,
  type ErrorFields,
  FerryError,
  formatError,
  inContext,
  inContextSync,
  isFerryError,
  serializeError,
  toFerryError,
  type WireError,
} from './ferry-error.js';
