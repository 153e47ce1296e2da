import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { writeFileAtomic } from '../io/index.js';
import {
  type AuthId,
  type Namespace,
  namespaceComponents,
  parseAuthId,
  parseNamespace,
  parseStoreName,
  type StoreName,
} from '../model/index.js';

/**
 * `$FERRY_HOME/acl.cfg`: who may do what where, one entry a line in PBS's layout:
 *
 *   acl:<propagate 0|1>:<path>:<auth id>:<role>
 *
 * Paths: `/`, `/datastore`, `/datastore/<store>`, `/datastore/<store>/<ns component>/…`. An entry applies to its
 * path and, with propagate 1 (the default), to everything below it. Where several apply, the most specific (deepest)
 * one decides, so a narrower entry can lower a role as well as raise it. Entries name an exact auth id: an entry for
 * `user@realm` does not apply to that user's tokens.
 *
 * Roles, each including the ones before it:
 *   reader  list datastores, namespaces, groups and snapshots; open reader sessions (download, batch chunks, proofs)
 *   backup  open writer sessions (new groups become the token's); create namespaces; delete its own groups/snapshots
 *   admin   delete any namespace, group or snapshot; open a writer session for another owner
 */
export const ROLES = ['reader', 'backup', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface AclEntry {
  path: string;
  authId: AuthId;
  role: Role;
  propagate: boolean;
}

export function aclConfigPath(home: string): string {
  return join(home, 'acl.cfg');
}

export function parseRole(value: unknown): Role {
  if (!ROLES.includes(value as Role)) {
    throw new FerryError(
      'FERRY_ERR_INVALID_VALUE',
      `invalid role ${JSON.stringify(value)}: expected ${ROLES.join(', ')}`,
      {
        fields: { what: 'role' },
      },
    );
  }
  return value as Role;
}

/** True when `role` includes everything `needed` allows. */
export function roleAllows(role: Role | undefined, needed: Role): boolean {
  return role !== undefined && ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** Checks and normalises an ACL path (no trailing slash except for `/`). */
export function parseAclPath(value: unknown): string {
  const bad = (why: string): never => {
    throw new FerryError('FERRY_ERR_INVALID_VALUE', `invalid ACL path ${JSON.stringify(value)}: ${why}`, {
      fields: { what: 'acl path' },
    });
  };
  if (typeof value !== 'string' || !value.startsWith('/'))
    return bad('expected /, /datastore or /datastore/STORE[/NS…]');
  if (value === '/') return '/';
  const parts = value.replace(/\/$/, '').split('/').slice(1);
  if (parts[0] !== 'datastore') return bad('expected /, /datastore or /datastore/STORE[/NS…]');
  if (parts.length === 1) return '/datastore';
  try {
    const store = parseStoreName(parts[1]);
    return aclPathFor(store, parseNamespace(parts.slice(2).join('/')));
  } catch (err) {
    return bad((err as Error).message);
  }
}

/** The ACL path of a namespace of a datastore: `/datastore/<store>[/<ns…>]`. */
export function aclPathFor(store: StoreName, ns: Namespace): string {
  return ['/datastore', store, ...namespaceComponents(ns)].join('/');
}

function isAtOrBelow(path: string, anchor: string): boolean {
  return anchor === '/' || path === anchor || path.startsWith(`${anchor}/`);
}

/** The role `authId` has at `path`: the deepest entry at or above it that applies. */
export function roleAt(entries: readonly AclEntry[], authId: AuthId, path: string): Role | undefined {
  let best: AclEntry | undefined;
  for (const e of entries) {
    if (e.authId !== authId || !isAtOrBelow(path, e.path)) continue;
    if (e.path !== path && !e.propagate) continue;
    if (best === undefined || e.path.length > best.path.length) best = e;
  }
  return best?.role;
}

/**
 * The least role `authId` has anywhere in the subtree at `path`, down to `maxDepth` levels below it: what an
 * operation that covers the whole subtree (a verification of a namespace and those below it) may do there. Where
 * no entry names a path below, it has the role of the deepest entry above it that propagates; so the candidates are
 * `path` itself, a path just below it, and each entry inside the subtree with a path just below that one. Undefined
 * when some part of the subtree has no role.
 */
export function leastRoleWithin(
  entries: readonly AclEntry[],
  authId: AuthId,
  path: string,
  maxDepth: number,
): Role | undefined {
  const inherited = (at: string): Role | undefined => {
    let best: AclEntry | undefined;
    for (const e of entries) {
      if (e.authId !== authId || !e.propagate || !isAtOrBelow(at, e.path)) continue;
      if (best === undefined || e.path.length > best.path.length) best = e;
    }
    return best?.role;
  };
  const levelsBelow = (p: string) => p.slice(path === '/' ? 0 : path.length).split('/').length - 1;
  const roles = [roleAt(entries, authId, path)];
  if (maxDepth > 0) roles.push(inherited(path));
  for (const e of entries) {
    if (e.authId !== authId || e.path === path || !isAtOrBelow(e.path, path)) continue;
    const depth = levelsBelow(e.path);
    if (depth > maxDepth) continue;
    roles.push(roleAt(entries, authId, e.path));
    if (depth < maxDepth) roles.push(inherited(e.path));
  }
  if (roles.some((r) => r === undefined)) return undefined;
  return (roles as Role[]).reduce((least, r) => (ROLES.indexOf(r) < ROLES.indexOf(least) ? r : least));
}

/** True when `authId` has some role at `path` or anywhere below it (what makes a datastore or namespace visible). */
export function hasAnyRoleWithin(entries: readonly AclEntry[], authId: AuthId, path: string): boolean {
  return (
    roleAt(entries, authId, path) !== undefined ||
    entries.some((e) => e.authId === authId && isAtOrBelow(e.path, path))
  );
}

export function parseAclConfig(text: string, file: string): AclEntry[] {
  const entries: AclEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const fail = (detail: string): never => {
      throw new FerryError('FERRY_ERR_CONFIG', `${file}:${i + 1}: ${detail}`, {
        fields: { file, line: i + 1 },
      });
    };
    const m = /^acl:([01]):([^:]*):([^:]+):([^:]+)$/.exec(line);
    if (!m) fail(`expected acl:<0|1>:<path>:<auth id>:<role>, got ${JSON.stringify(line.slice(0, 80))}`);
    const [, propagate, path, authId, role] = m as unknown as [string, string, string, string, string];
    try {
      entries.push({
        propagate: propagate === '1',
        path: parseAclPath(path),
        authId: parseAuthId(authId),
        role: parseRole(role),
      });
    } catch (err) {
      fail((err as Error).message);
    }
  }
  return entries;
}

export function formatAclConfig(entries: readonly AclEntry[]): string {
  return entries.map((e) => `acl:${e.propagate ? 1 : 0}:${e.path}:${e.authId}:${e.role}\n`).join('');
}

export async function readAclConfig(home: string): Promise<AclEntry[]> {
  const file = aclConfigPath(home);
  try {
    return parseAclConfig(await readFile(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function writeAclConfig(home: string, entries: readonly AclEntry[]): Promise<void> {
  await writeFileAtomic(aclConfigPath(home), Buffer.from(formatAclConfig(entries)), { mode: 0o600 });
}
