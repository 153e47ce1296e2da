import { type ErrorCode, isErrorCode } from './codes.js';

export type ErrorFields = Readonly<Record<string, string | number | boolean | null>>;

/**
 * The one error class Ferry throws. `detail` says what is wrong where it was found; `context` holds the "noun id"
 * frames added on the way up (`group vm/100`, `snapshot 2026-…Z`, `archive x.img.fidx`), outermost first. The
 * message is always `context.join(': ') + ': ' + detail`.
 */
export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  readonly context: string[];
  readonly fields: ErrorFields;

  constructor(
    code: ErrorCode,
    detail: string,
    options: { cause?: unknown; fields?: ErrorFields; context?: string[] } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.code = code;
    this.detail = detail;
    this.context = options.context ? [...options.context] : [];
    this.fields = options.fields ?? {};
    this.message = this.compose();
  }

  /** Adds an outer frame (the caller's level) and returns this error, for `throw err.withFrame(...)`. */
  withFrame(frame: string): this {
    if (this.context[0] !== frame) this.context.unshift(frame);
    this.message = this.compose();
    return this;
  }

  private compose(): string {
    return this.context.length === 0 ? this.detail : `${this.context.join(': ')}: ${this.detail}`;
  }
}

export function isFerryError(err: unknown, code?: ErrorCode): err is FerryError {
  return err instanceof FerryError && (code === undefined || err.code === code);
}

const SYSTEM_CODES: Readonly<Record<string, ErrorCode>> = {
  ENOENT: 'FERRY_ERR_NOT_FOUND',
  ENOTDIR: 'FERRY_ERR_NOT_FOUND',
  EEXIST: 'FERRY_ERR_ALREADY_EXISTS',
  ENOTEMPTY: 'FERRY_ERR_NOT_EMPTY',
  ECONNRESET: 'FERRY_ERR_NETWORK',
  ECONNREFUSED: 'FERRY_ERR_NETWORK',
  EPIPE: 'FERRY_ERR_NETWORK',
  ETIMEDOUT: 'FERRY_ERR_TIMEOUT',
  ABORT_ERR: 'FERRY_ERR_ABORTED',
};

/**
 * Turns anything thrown into a FerryError. A system error becomes the matching code with its own message as detail;
 * an AbortError becomes FERRY_ERR_ABORTED; anything else is FERRY_ERR_INTERNAL with the original as `cause`.
 */
export function toFerryError(err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  if (err instanceof Error) {
    const sysCode = (err as NodeJS.ErrnoException).code;
    if (err.name === 'AbortError') return new FerryError('FERRY_ERR_ABORTED', 'interrupted', { cause: err });
    const mapped = typeof sysCode === 'string' ? SYSTEM_CODES[sysCode] : undefined;
    const code: ErrorCode =
      mapped ??
      (typeof sysCode === 'string' && /^E[A-Z]+$/.test(sysCode) ? 'FERRY_ERR_IO' : 'FERRY_ERR_INTERNAL');
    return new FerryError(code, err.message, { cause: err });
  }
  return new FerryError('FERRY_ERR_INTERNAL', String(err));
}

/** Adds `frame` to whatever `err` is (wrapping it first if needed). */
export function addFrame(err: unknown, frame: string): FerryError {
  return toFerryError(err).withFrame(frame);
}

/** Runs `fn`; any error it throws gets `frame` as its outer context. The level that owns the noun calls this once. */
export async function inContext<T>(frame: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw addFrame(err, frame);
  }
}

export function inContextSync<T>(frame: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw addFrame(err, frame);
  }
}

/** The plain-data form of an error: what crosses `postMessage` and HTTP. */
export interface WireError {
  code: ErrorCode;
  detail: string;
  context: string[];
  fields: ErrorFields;
}

export function serializeError(err: unknown): WireError {
  const e = toFerryError(err);
  return { code: e.code, detail: e.detail, context: [...e.context], fields: e.fields };
}

export function deserializeError(wire: unknown): FerryError {
  if (typeof wire === 'object' && wire !== null) {
    const w = wire as Partial<Record<keyof WireError, unknown>>;
    if (isErrorCode(w.code) && typeof w.detail === 'string') {
      const context = Array.isArray(w.context)
        ? w.context.filter((f): f is string => typeof f === 'string')
        : [];
      const fields = typeof w.fields === 'object' && w.fields !== null ? (w.fields as ErrorFields) : {};
      return new FerryError(w.code, w.detail, { context, fields });
    }
  }
  return new FerryError('FERRY_ERR_PROTOCOL', `malformed error: ${JSON.stringify(wire)?.slice(0, 200)}`);
}

/** One line for humans: the message, then each `cause` that adds something. */
export function formatError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const text = current instanceof Error ? current.message : String(current);
    if (!parts.some((p) => p.includes(text))) parts.push(text);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': caused by: ');
}
