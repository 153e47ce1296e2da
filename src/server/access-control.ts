import {
  type AclEntry,
  aclConfigPath,
  aclPathFor,
  datastoreOfTask,
  hasAnyRoleWithin,
  leastRoleWithin,
  type Role,
  readAclConfig,
  roleAllows,
  roleAt,
} from '../config/index.js';
import { FerryError } from '../errors/index.js';
import type { AuthId, Namespace, StoreName } from '../model/index.js';
import { WatchedFile } from './watched-file.js';

/**
 * Permission checks against `acl.cfg` (reloaded when it changes). Every route checks the role it needs on
 * `/datastore/<store>[/<ns…>]` before it looks at the datastore, so a token without access learns nothing about what
 * exists there (403 comes before 404); what belongs to the whole host needs admin on `/`; a task, the role on the
 * datastore it works on (or admin on `/`).
 */
export class AccessControl {
  private readonly acl: WatchedFile<AclEntry[]>;

  constructor(home: string) {
    this.acl = new WatchedFile(aclConfigPath(home), () => readAclConfig(home));
  }

  async roleAt(authId: AuthId, store: StoreName, ns: Namespace): Promise<Role | undefined> {
    return roleAt((await this.acl.get()).value, authId, aclPathFor(store, ns));
  }

  /** Throws FERRY_ERR_FORBIDDEN unless `authId` has `role` (or more) on the namespace. */
  async require(authId: AuthId, store: StoreName, ns: Namespace, role: Role): Promise<Role> {
    return this.requireAt(authId, aclPathFor(store, ns), role);
  }

  /**
   * Throws FERRY_ERR_FORBIDDEN unless `authId` has `role` (or more) on `/`: for what belongs to the whole host, not
   * to one datastore (its tasks, remotes and sync jobs).
   */
  async requireRoot(authId: AuthId, role: Role): Promise<void> {
    await this.requireAt(authId, '/', role);
  }

  /**
   * Throws FERRY_ERR_FORBIDDEN unless `authId` has `role` (or more) on the namespace and on every namespace down to
   * `maxDepth` levels below it: for what covers them all (a verification; PBS leaves out the namespaces where the
   * token lacks the privilege, but a run here is a process of its own that knows no token). Decided from the ACL
   * alone, before anything of the datastore is looked at, so where an entry below lowers the role (or a
   * `--no-propagate` entry stops it) the answer is 403 whether such a namespace exists or not.
   */
  async requireWithin(
    authId: AuthId,
    store: StoreName,
    ns: Namespace,
    maxDepth: number,
    role: Role,
  ): Promise<void> {
    const path = aclPathFor(store, ns);
    if (!roleAllows(leastRoleWithin((await this.acl.get()).value, authId, path, maxDepth), role)) {
      const where = maxDepth === 0 ? path : `${path} and the namespaces up to ${maxDepth} level(s) below it`;
      throw new FerryError('FERRY_ERR_FORBIDDEN', `${authId} lacks role ${role} on ${where}`, {
        fields: { path, role },
      });
    }
  }

  /**
   * Throws FERRY_ERR_FORBIDDEN unless `authId` may read (`reader`) or stop (`admin`) the task `taskId`: an admin on `/`
   * every task; otherwise a task of a datastore (gc, prune, verify: `datastoreOfTask`) with that role on its datastore,
   * or on its namespace for a verification of one. Decided from the task's id, before its record is read.
   */
  async requireTask(authId: AuthId, taskId: string, role: 'reader' | 'admin'): Promise<void> {
    const entries = (await this.acl.get()).value;
    if (roleAllows(roleAt(entries, authId, '/'), 'admin')) return;
    const of = datastoreOfTask(taskId);
    if (of !== undefined) {
      await this.require(authId, of.store, of.ns, role);
      return;
    }
    throw new FerryError(
      'FERRY_ERR_FORBIDDEN',
      `${authId} lacks role admin on / (task ${taskId} is the host's, not a datastore's)`,
      { fields: { path: '/', role: 'admin' } },
    );
  }

  /**
   * Which tasks `authId` may read (as requireTask with `reader`), with the ACL read once for a whole list. A token
   * without any role at all is refused (FERRY_ERR_FORBIDDEN) rather than shown an empty list.
   */
  async taskReader(authId: AuthId): Promise<(taskId: string) => boolean> {
    const entries = (await this.acl.get()).value;
    if (roleAllows(roleAt(entries, authId, '/'), 'admin')) return () => true;
    if (!hasAnyRoleWithin(entries, authId, '/'))
      throw new FerryError('FERRY_ERR_FORBIDDEN', `${authId} has no role on any path`, {
        fields: { path: '/', role: 'reader' },
      });
    return (taskId) => {
      const of = datastoreOfTask(taskId);
      return of !== undefined && roleAllows(roleAt(entries, authId, aclPathFor(of.store, of.ns)), 'reader');
    };
  }

  private async requireAt(authId: AuthId, path: string, role: Role): Promise<Role> {
    const has = roleAt((await this.acl.get()).value, authId, path);
    if (!roleAllows(has, role)) {
      throw new FerryError('FERRY_ERR_FORBIDDEN', `${authId} lacks role ${role} on ${path}`, {
        fields: { path, role },
      });
    }
    return has as Role;
  }

  /** True when `authId` has any role on the namespace or below it: the namespace shows in lists. */
  async canSee(authId: AuthId, store: StoreName, ns: Namespace): Promise<boolean> {
    return hasAnyRoleWithin((await this.acl.get()).value, authId, aclPathFor(store, ns));
  }
}
