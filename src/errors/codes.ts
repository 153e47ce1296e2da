/**
 * The error code catalogue: every typed error Ferry throws carries one of these codes. Codes are stable: they cross
 * threads, the network (JSON error bodies) and end up in scripts (`--output-format json`). The HTTP status for each
 * code lives in `src/protocol`, the exit status in `src/cli`; both are derived from `kind`.
 */
export type ErrorKind =
  | 'usage' // bad arguments, bad names, bad configuration
  | 'not-found'
  | 'conflict' // already exists, time not increasing, owner mismatch, protected
  | 'locked'
  | 'corrupt' // bytes on disk or on the wire are not what they claim
  | 'unauthorized'
  | 'forbidden'
  | 'too-large'
  | 'network'
  | 'aborted'
  | 'incomplete'
  | 'internal';

export const ERROR_CODES = {
  FERRY_ERR_USAGE: { kind: 'usage', text: 'bad command-line usage' },
  FERRY_ERR_CONFIG: { kind: 'usage', text: 'bad configuration file' },
  FERRY_ERR_INVALID_VALUE: { kind: 'usage', text: 'a name or value does not have the required form' },
  FERRY_ERR_NOT_FOUND: {
    kind: 'not-found',
    text: 'the datastore, namespace, group, snapshot, archive or chunk does not exist',
  },
  FERRY_ERR_ALREADY_EXISTS: { kind: 'conflict', text: 'the object to create exists already' },
  FERRY_ERR_TIME_NOT_INCREASING: {
    kind: 'conflict',
    text: 'a new snapshot must be newer than the last one of its group',
  },
  FERRY_ERR_OWNER_MISMATCH: { kind: 'conflict', text: 'the group is owned by someone else' },
  FERRY_ERR_PROTECTED: { kind: 'conflict', text: 'the snapshot is protected' },
  FERRY_ERR_NOT_EMPTY: { kind: 'conflict', text: 'the object still holds data' },
  FERRY_ERR_IN_USE: { kind: 'conflict', text: 'the object is still used by another one' },
  FERRY_ERR_LOCKED: { kind: 'locked', text: 'another task holds the lock' },
  FERRY_ERR_MAINTENANCE: {
    kind: 'locked',
    text: 'the datastore is in a maintenance mode that does not allow this',
  },
  FERRY_ERR_BAD_MAGIC: { kind: 'corrupt', text: 'the file does not start with a known magic number' },
  FERRY_ERR_BAD_CRC: { kind: 'corrupt', text: 'the CRC-32 of a blob does not match its data' },
  FERRY_ERR_TRUNCATED: { kind: 'corrupt', text: 'the data ends before its header says it does' },
  FERRY_ERR_BAD_FORMAT: { kind: 'corrupt', text: 'a header field, entry count or JSON document is invalid' },
  FERRY_ERR_DIGEST_MISMATCH: { kind: 'corrupt', text: 'the SHA-256 of a chunk does not match its name' },
  FERRY_ERR_SIZE_MISMATCH: { kind: 'corrupt', text: 'a chunk or file has the wrong length' },
  FERRY_ERR_CSUM_MISMATCH: {
    kind: 'corrupt',
    text: 'an archive does not match the checksum in its manifest',
  },
  FERRY_ERR_CRYPT_MODE_MISMATCH: {
    kind: 'corrupt',
    text: 'a chunk is encrypted where its index says plain, or the reverse',
  },
  FERRY_ERR_ENCRYPTED: { kind: 'usage', text: 'the data is encrypted and cannot be decoded without its key' },
  FERRY_ERR_VERIFY_FAILED: { kind: 'corrupt', text: 'verification found damaged data' },
  FERRY_ERR_TOO_LARGE: { kind: 'too-large', text: 'a size or count exceeds its limit' },
  FERRY_ERR_UNAUTHORIZED: { kind: 'unauthorized', text: 'missing, wrong or revoked credentials' },
  FERRY_ERR_FORBIDDEN: { kind: 'forbidden', text: 'the credentials do not allow this' },
  FERRY_ERR_CHUNK_NOT_ALLOWED: {
    kind: 'forbidden',
    text: 'the chunk is not referenced by an index of this session',
  },
  FERRY_ERR_TLS_FINGERPRINT: {
    kind: 'network',
    text: "the server's certificate does not match the pinned fingerprint",
  },
  FERRY_ERR_NETWORK: { kind: 'network', text: 'a connection failed or was reset' },
  FERRY_ERR_TIMEOUT: { kind: 'network', text: 'the peer did not answer in time' },
  FERRY_ERR_PROTOCOL: { kind: 'network', text: 'the peer answered something the protocol does not allow' },
  FERRY_ERR_BUSY: { kind: 'network', text: 'the server has too many sessions open; try again later' },
  FERRY_ERR_ABORTED: { kind: 'aborted', text: 'the operation was interrupted' },
  FERRY_ERR_SYNC_INCOMPLETE: { kind: 'incomplete', text: 'some groups of a sync job failed' },
  FERRY_ERR_IO: { kind: 'internal', text: 'a file system operation failed' },
  FERRY_ERR_INTERNAL: { kind: 'internal', text: 'an unexpected error (a bug)' },
} as const satisfies Record<string, { kind: ErrorKind; text: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export function kindOf(code: ErrorCode): ErrorKind {
  return ERROR_CODES[code].kind;
}
