import { FerryError } from '../errors/index.js';

/** PBS's SAFE_ID: what group ids, namespace components and archive stems are made of. */
export const SAFE_ID_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** Throws the typed error for a value that fails validation; `what` names the value (`group id`, `namespace`). */
export function invalid(what: string, value: unknown, why: string): never {
  const shown =
    typeof value === 'string'
      ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
      : String(value);
  throw new FerryError('FERRY_ERR_INVALID_VALUE', `invalid ${what} ${shown}: ${why}`, { fields: { what } });
}

/** Checks `value` is a string of SAFE_ID characters, 1..maxLength long, and not `.`/`..`. */
export function checkSafeId(what: string, value: unknown, maxLength: number): string {
  if (typeof value !== 'string') invalid(what, value, 'not a string');
  if (value.length === 0) invalid(what, value, 'empty');
  if (value.length > maxLength) invalid(what, value, `longer than ${maxLength} characters`);
  if (!SAFE_ID_RE.test(value))
    invalid(what, value, 'only letters, digits, "_", "-" and "." are allowed, not first "." or "-"');
  return value;
}
