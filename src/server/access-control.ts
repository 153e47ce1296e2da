import {
  type AclEntry,
  aclConfigPath,
  aclPathFor,
  hasAnyRoleWithin,
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
 * exists there (403 comes before 404).
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
