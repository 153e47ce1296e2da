import { FerryError } from '../errors/index.js';

/**
 * A datastore's maintenance mode (datastore.cfg `maintenance-mode`, PBS's key and property-string form:
 * `type=read-only,message="moving to the new disk"`, or just `read-only`).
 *
 * - `read-only`: what only reads goes on (restore, listing, verifying, syncing *from* it); what would change the
 *   datastore is refused (backup, sync into it, prune, forget, GC, namespaces, reindex). Verify checks everything
 *   but records nothing: no verify state in the manifests, no damaged chunk moved aside.
 * - `offline`: nothing that opens the datastore is allowed; its settings can still be shown and changed.
 *
 * As in PBS, the mode is checked when an operation starts: one already running when the mode is set finishes.
 */
export type MaintenanceType = 'read-only' | 'offline';

export interface MaintenanceMode {
  type: MaintenanceType;
  /** Shown with every refusal: why, and until when. */
  message?: string;
}

/** What an operation does to a datastore: read it only, or change it. */
export type DatastoreAccess = 'read' | 'write';

const TYPES: readonly MaintenanceType[] = ['read-only', 'offline'];
const MAX_MESSAGE = 256;

/** Parses PBS's property string; throws a plain Error whose message says what is wrong (callers add the place). */
export function parseMaintenanceMode(text: string): MaintenanceMode {
  const values = new Map<string, string>();
  for (const [key, value] of propertyPairs(text)) {
    if (values.has(key)) throw new Error(`${key} is given twice`);
    values.set(key, value);
  }
  const type = values.get('type');
  if (type === undefined) throw new Error('type is missing (read-only or offline)');
  if (!(TYPES as readonly string[]).includes(type))
    throw new Error(`type must be read-only or offline, not ${JSON.stringify(type)}`);
  for (const key of values.keys())
    if (key !== 'type' && key !== 'message') throw new Error(`unknown key ${JSON.stringify(key)}`);
  const message = values.get('message');
  if (message !== undefined) {
    if (message.length > MAX_MESSAGE) throw new Error(`message is longer than ${MAX_MESSAGE} characters`);
    if (/[\p{Cc}]/u.test(message)) throw new Error('message holds a control character');
  }
  return { type: type as MaintenanceType, ...(message !== undefined && message !== '' ? { message } : {}) };
}

/** The property string as datastore.cfg keeps it; the message is quoted when it has to be. */
export function formatMaintenanceMode(mode: MaintenanceMode): string {
  if (mode.message === undefined) return `type=${mode.type}`;
  const plain = /^[^\s,"\\=]+$/.test(mode.message);
  const message = plain ? mode.message : `"${mode.message.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  return `type=${mode.type},message=${message}`;
}

/**
 * Throws FERRY_ERR_MAINTENANCE when `mode` does not allow `access` to datastore `store`; `what` names the refused
 * operation in the message ("backup", "garbage collection"…).
 */
export function checkMaintenance(
  store: string,
  mode: MaintenanceMode | undefined,
  access: DatastoreAccess,
  what?: string,
): void {
  if (mode === undefined || (mode.type === 'read-only' && access === 'read')) return;
  const why = mode.message === undefined ? '' : ` (${mode.message})`;
  const allowed =
    mode.type === 'read-only' ? 'only reading is allowed' : 'it can be neither read nor written';
  throw new FerryError(
    'FERRY_ERR_MAINTENANCE',
    `datastore ${store} is in ${mode.type} maintenance mode${why}: ${allowed}${what === undefined ? '' : `; ${what} refused`}`,
    { fields: { store, maintenance: mode.type } },
  );
}

/** The `key=value` pairs of a property string; a first value without a key is the `type` (PBS's default key). */
function* propertyPairs(text: string): Generator<[string, string]> {
  let i = 0;
  let first = true;
  if (text.trim() === '') throw new Error('it is empty');
  while (i < text.length) {
    const keyMatch = /^([a-z-]+)=/.exec(text.slice(i));
    let key: string;
    if (keyMatch) {
      key = keyMatch[1] as string;
      i += keyMatch[0].length;
    } else if (first) {
      key = 'type';
    } else {
      throw new Error(
        `expected key=value at ${JSON.stringify(text.slice(i))} (a message with a comma is quoted: message="a, b")`,
      );
    }
    let value = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const c = text[i];
        if (c === undefined) throw new Error('a quoted value does not end');
        i++;
        if (c === '"') break;
        if (c === '\\') {
          const next = text[i];
          if (next === undefined) throw new Error('a quoted value does not end');
          value += next;
          i++;
        } else value += c;
      }
      if (i < text.length && text[i] !== ',') throw new Error('a quoted value must be followed by a comma');
    } else {
      const end = text.indexOf(',', i);
      value = text.slice(i, end === -1 ? text.length : end);
      i = end === -1 ? text.length : end;
    }
    if (text[i] === ',') {
      i++;
      if (i === text.length) throw new Error('it ends with a comma');
    }
    first = false;
    yield [key, value];
  }
}
