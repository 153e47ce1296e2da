import { checkSafeId, invalid } from './safe-id.js';

/** A datastore's name: PBS's SAFE_ID, 3 to 32 characters. */
export type StoreName = string & { readonly __brand: 'StoreName' };

export function parseStoreName(value: unknown): StoreName {
  const name = checkSafeId('datastore name', value, 32);
  if (name.length < 3) invalid('datastore name', value, 'shorter than 3 characters');
  return name as StoreName;
}
