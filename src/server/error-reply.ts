import type { FastifyError } from 'fastify';
import { FerryError, toFerryError } from '../errors/index.js';

/**
 * Turns whatever a request failed with into the FerryError its response carries: our own errors as they are,
 * fastify's (schema validation, body parsing, body size) as FERRY_ERR_INVALID_VALUE or FERRY_ERR_TOO_LARGE with
 * fastify's message, anything else through toFerryError (FERRY_ERR_INTERNAL unless it is a system error).
 */
export function errorForReply(err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  const e = err as Partial<FastifyError> | undefined;
  if (e?.validation !== undefined) {
    // Ajv's message for a key the schema does not have leaves the key out; the caller needs it.
    const extra = e.validation
      .map((v) => (v.params as { additionalProperty?: unknown } | undefined)?.additionalProperty)
      .filter((k): k is string => typeof k === 'string');
    return new FerryError(
      'FERRY_ERR_INVALID_VALUE',
      `invalid request: ${e.message ?? 'schema validation failed'}${extra.length > 0 ? ` (${extra.map((k) => JSON.stringify(k)).join(', ')})` : ''}`,
    );
  }
  const status = e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 413)
      return new FerryError('FERRY_ERR_TOO_LARGE', `request body is too large: ${e?.message ?? ''}`);
    return new FerryError('FERRY_ERR_INVALID_VALUE', `bad request: ${e?.message ?? `HTTP ${status}`}`, {
      fields: { reason: e?.code ?? null },
    });
  }
  return toFerryError(err);
}
