import type { Command } from 'commander';
import {
  parseAclPath,
  parseRole,
  ROLES,
  readAclConfig,
  withConfigLocks,
  writeAclConfig,
} from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import { parseAuthId } from '../../model/index.js';
import type { ActionFactory } from '../action.js';

export function registerAcl(program: Command, act: ActionFactory): void {
  const cmd = program
    .command('acl')
    .description(`who may do what where: roles ${ROLES.join(', ')} on /, /datastore, /datastore/STORE[/NS…]`);

  cmd
    .command('set <path> <auth-id> <role>')
    .description('give auth-id a role on path (and, unless --no-propagate, everything below it)')
    .option('--no-propagate', 'apply to this exact path only')
    .action(
      act<{ propagate: boolean }>(async (rt, [path, id, role], opts) => {
        const entry = {
          path: parseAclPath(path),
          authId: parseAuthId(id),
          role: parseRole(role),
          propagate: opts.propagate,
        };
        await withConfigLocks(rt.home, ['acl'], async () => {
          const acl = (await readAclConfig(rt.home)).filter(
            (e) => !(e.path === entry.path && e.authId === entry.authId),
          );
          acl.push(entry);
          await writeAclConfig(rt.home, acl);
        });
        rt.print(
          entry,
          () =>
            `${entry.authId} has role ${entry.role} on ${entry.path}${entry.propagate ? ' and below' : ''}`,
        );
      }),
    );

  cmd
    .command('list')
    .description('list ACL entries')
    .action(
      act(async (rt) => {
        const rows = (await readAclConfig(rt.home)).map((e) => ({
          path: e.path,
          'auth-id': e.authId,
          role: e.role,
          propagate: e.propagate,
        }));
        rt.printList(rows, ['path', 'auth-id', 'role', 'propagate']);
      }),
    );

  cmd
    .command('remove <path> <auth-id>')
    .description("remove auth-id's entry on path")
    .action(
      act(async (rt, [path, id]) => {
        const aclPath = parseAclPath(path);
        const authId = parseAuthId(id);
        await withConfigLocks(rt.home, ['acl'], async () => {
          const acl = await readAclConfig(rt.home);
          const kept = acl.filter((e) => !(e.path === aclPath && e.authId === authId));
          if (kept.length === acl.length)
            throw new FerryError('FERRY_ERR_NOT_FOUND', `no ACL entry for ${authId} on ${aclPath}`);
          await writeAclConfig(rt.home, kept);
        });
        rt.print(
          { path: aclPath, 'auth-id': authId, removed: true },
          () => `removed ${authId} from ${aclPath}`,
        );
      }),
    );
}
