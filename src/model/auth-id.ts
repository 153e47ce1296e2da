import { checkSafeId, invalid } from './safe-id.js';

/** `user@realm` or, for an API token, `user@realm!name`. */
export type AuthId = string & { readonly __brand: 'AuthId' };

const USER_RE = /^[^\s:/@!\p{Cc}]{1,64}$/u;
const REALM_RE = /^[A-Za-z][A-Za-z0-9._-]{1,31}$/;

export function parseAuthId(value: unknown): AuthId {
  if (typeof value !== 'string') invalid('auth id', value, 'not a string');
  const bang = value.indexOf('!');
  const userPart = bang < 0 ? value : value.slice(0, bang);
  const at = userPart.lastIndexOf('@');
  if (at < 0) invalid('auth id', value, 'expected user@realm or user@realm!token');
  if (!USER_RE.test(userPart.slice(0, at))) invalid('auth id', value, 'bad user name');
  if (!REALM_RE.test(userPart.slice(at + 1))) invalid('auth id', value, 'bad realm');
  if (bang >= 0) checkSafeId('token name', value.slice(bang + 1), 64);
  return value as AuthId;
}

export function isTokenId(id: AuthId): boolean {
  return id.includes('!');
}

/** The user an auth id belongs to (itself for a user). */
export function userOf(id: AuthId): AuthId {
  const bang = id.indexOf('!');
  return (bang < 0 ? id : id.slice(0, bang)) as AuthId;
}
