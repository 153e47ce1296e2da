import { type ErrorCode, type ErrorKind, kindOf } from '../errors/index.js';

/**
 * The one table from error codes to HTTP statuses, derived from each code's kind (src/errors/codes.ts), with the
 * few codes that need a more precise status listed as overrides. The client maps statuses back only when a
 * response has no JSON error body (a proxy in between, a server that died mid-reply).
 */
const STATUS_BY_KIND: Readonly<Record<ErrorKind, number>> = {
  usage: 400,
  'not-found': 404,
  conflict: 409,
  locked: 409,
  corrupt: 422,
  unauthorized: 401,
  forbidden: 403,
  'too-large': 413,
  network: 502,
  aborted: 503,
  incomplete: 500,
  internal: 500,
};

const STATUS_OVERRIDES: Partial<Readonly<Record<ErrorCode, number>>> = {
  FERRY_ERR_BUSY: 503,
  FERRY_ERR_TIMEOUT: 504,
};

export function httpStatusFor(code: ErrorCode): number {
  return STATUS_OVERRIDES[code] ?? STATUS_BY_KIND[kindOf(code)];
}

/** The code for a bare status (no JSON body to say more). */
export function codeForHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'FERRY_ERR_INVALID_VALUE';
    case 401:
      return 'FERRY_ERR_UNAUTHORIZED';
    case 403:
      return 'FERRY_ERR_FORBIDDEN';
    case 404:
      return 'FERRY_ERR_NOT_FOUND';
    case 409:
      return 'FERRY_ERR_ALREADY_EXISTS';
    case 413:
      return 'FERRY_ERR_TOO_LARGE';
    case 503:
      return 'FERRY_ERR_BUSY';
    case 502:
      return 'FERRY_ERR_NETWORK';
    case 504:
      return 'FERRY_ERR_TIMEOUT';
    default:
      return status >= 500 ? 'FERRY_ERR_INTERNAL' : 'FERRY_ERR_PROTOCOL';
  }
}

/** Statuses a client may retry an idempotent request on. */
export function isRetryableStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}
