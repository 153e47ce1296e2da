import { type ErrorFields, FerryError, isErrorCode } from '../errors/index.js';
import { codeForHttpStatus } from './http-status.js';

/**
 * The JSON body of every error response:
 *
 *   { "error": { "code": "FERRY_ERR_…", "message": "…", "context": ["group vm/100", …], "fields": { … } } }
 *
 * `message` is the whole message (context frames and detail); the client rebuilds the same FerryError from it, so a
 * code, its context and its fields survive the network.
 */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    context: string[];
    fields: ErrorFields;
  };
}

export function errorBody(err: FerryError): ErrorBody {
  return { error: { code: err.code, message: err.message, context: [...err.context], fields: err.fields } };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isFieldValue(v: unknown): v is string | number | boolean | null {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v);
}

/**
 * Rebuilds the server's error from a response body (already parsed as JSON, or undefined when it was not JSON).
 * A body that is not an error body gives an error for the bare status, naming it.
 */
export function errorFromBody(body: unknown, status: number): FerryError {
  const e = isPlainObject(body) ? body['error'] : undefined;
  if (isPlainObject(e) && isErrorCode(e['code']) && typeof e['message'] === 'string') {
    const context = Array.isArray(e['context'])
      ? e['context'].filter((f): f is string => typeof f === 'string').slice(0, 16)
      : [];
    const fields: Record<string, string | number | boolean | null> = {};
    if (isPlainObject(e['fields'])) {
      for (const [k, v] of Object.entries(e['fields'])) if (isFieldValue(v)) fields[k] = v;
    }
    const prefix = context.length > 0 ? `${context.join(': ')}: ` : '';
    const message = e['message'];
    const detail = prefix !== '' && message.startsWith(prefix) ? message.slice(prefix.length) : message;
    return new FerryError(e['code'], detail, { context, fields });
  }
  return new FerryError(codeForHttpStatus(status), `server answered HTTP ${status}`, { fields: { status } });
}
