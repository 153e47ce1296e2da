import type { Command } from 'commander';
import {
  generateTokenSecret,
  hashTokenSecret,
  parseTokenId,
  readAclConfig,
  readTokenConfig,
  withConfigLocks,
  writeAclConfig,
  writeTokenConfig,
} from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import { formatBackupTime, nowSeconds } from '../../model/index.js';
import type { ActionFactory } from '../action.js';

export function registerToken(program: Command, act: ActionFactory): void {
  const cmd = program
    .command('token')
    .description('API tokens for `ferry serve` (secrets are stored hashed)');

  cmd
    .command('create <auth-id>')
    .description('create a token user@realm!name; its secret is printed this once and never again')
    .option('--comment <text>', 'a comment')
    .action(
      act<{ comment?: string }>(async (rt, [id], opts) => {
        const authId = parseTokenId(id);
        const secret = generateTokenSecret();
        const hash = await hashTokenSecret(secret);
        await withConfigLocks(rt.home, ['token'], async () => {
          const tokens = await readTokenConfig(rt.home);
          if (tokens.some((e) => e.authId === authId)) {
            throw new FerryError('FERRY_ERR_ALREADY_EXISTS', `token ${authId} exists already`);
          }
          tokens.push({
            authId,
            hash,
            created: nowSeconds(rt.clock),
            ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
          });
          await writeTokenConfig(rt.home, tokens);
        });
        rt.print(
          { 'auth-id': authId, secret },
          () => `created token ${authId}\nsecret ${secret}\n(store the secret now: it is not shown again)`,
        );
      }),
    );

  cmd
    .command('list')
    .description('list tokens (never their secrets)')
    .action(
      act(async (rt) => {
        const rows = (await readTokenConfig(rt.home)).map((e) => ({
          'auth-id': e.authId,
          created: formatBackupTime(e.created),
          comment: e.comment ?? '',
        }));
        rt.printList(rows, ['auth-id', 'created', 'comment']);
      }),
    );

  cmd
    .command('remove <auth-id>')
    .description(
      'revoke a token (a running server refuses it from its next request) and drop its ACL entries',
    )
    .action(
      act(async (rt, [id]) => {
        const authId = parseTokenId(id);
        await withConfigLocks(rt.home, ['token', 'acl'], async () => {
          const tokens = await readTokenConfig(rt.home);
          if (!tokens.some((e) => e.authId === authId)) {
            throw new FerryError('FERRY_ERR_NOT_FOUND', `token ${authId} does not exist`);
          }
          await writeTokenConfig(
            rt.home,
            tokens.filter((e) => e.authId !== authId),
          );
          const acl = await readAclConfig(rt.home);
          if (acl.some((e) => e.authId === authId)) {
            await writeAclConfig(
              rt.home,
              acl.filter((e) => e.authId !== authId),
            );
          }
        });
        rt.print({ 'auth-id': authId, removed: true }, () => `removed token ${authId}`);
      }),
    );
}
