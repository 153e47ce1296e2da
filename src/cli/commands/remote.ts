import type { Command } from 'commander';
import {
  addRemote,
  newRemote,
  publicRemote,
  type RemoteSettingsInput,
  readRemoteConfig,
  remoteUrl,
  removeRemote,
  updateRemote,
  withRemoteSettings,
} from '../../config/index.js';
import type { ActionFactory } from '../action.js';

function remoteOptions(cmd: Command, required: boolean): Command {
  const add = (flags: string, text: string) =>
    required ? cmd.requiredOption(flags, text) : cmd.option(flags, text);
  add('--host <host>', 'DNS name or IP address of the remote server');
  cmd.option('--port <port>', 'API port (default 8007)');
  add('--auth-id <auth-id>', 'API token on the remote: user@realm!name');
  add('--secret <secret>', "the token's secret (stored base64-encoded, file mode 0600, never printed)");
  cmd.option(
    '--fingerprint <sha256>',
    "the remote certificate's fingerprint (ferry cert info on the remote)",
  );
  cmd.option('--comment <text>', 'a comment');
  cmd.option('--scheme <scheme>', 'https (default), or http for a loopback benchmark remote');
  return cmd;
}

export function registerRemote(program: Command, act: ActionFactory): void {
  const cmd = program
    .command('remote')
    .description('remote Ferry (or PBS-style) servers to pull from and push to');

  remoteOptions(cmd.command('add <name>').description('add a remote'), true).action(
    act<RemoteSettingsInput>(async (rt, [name], opts) => {
      const entry = await addRemote(rt.home, newRemote(name, opts));
      rt.print(publicRemote(entry), () => `added remote ${entry.name} (${remoteUrl(entry)})`);
    }),
  );

  remoteOptions(cmd.command('update <name>').description('change some of a remote’s settings'), false).action(
    act<RemoteSettingsInput>(async (rt, [name], opts) => {
      const updated = await updateRemote(rt.home, name as string, (current) =>
        withRemoteSettings(current, opts),
      );
      rt.print(publicRemote(updated), () => `updated remote ${updated.name} (${remoteUrl(updated)})`);
    }),
  );

  cmd
    .command('list')
    .description('list remotes (never their secrets)')
    .action(
      act(async (rt) => {
        const rows = (await readRemoteConfig(rt.home)).map(publicRemote);
        rt.printList(rows, ['name', 'host', 'port', 'auth-id', 'fingerprint', 'scheme', 'comment']);
      }),
    );

  cmd
    .command('remove <name>')
    .description('remove a remote (refused while a sync job uses it)')
    .action(
      act(async (rt, [name]) => {
        const entry = await removeRemote(rt.home, name as string);
        rt.print({ name: entry.name, removed: true }, () => `removed remote ${entry.name}`);
      }),
    );

  cmd
    .command('scan <name>')
    .description('connect to a remote and list the datastores its token can see')
    .action(
      act(async (rt, [name]) => {
        const client = await rt.openRemote(name as string, { connections: 1 });
        const stores = await client.listDatastores();
        rt.printList(
          stores.map((s) => ({
            store: s.store,
            maintenance: s.maintenance ?? '-',
            comment: s.comment ?? '',
          })),
          ['store', 'maintenance', 'comment'],
          // JSON: the maintenance mode only where there is one, as the API gives it.
          stores.map((s) => ({
            store: s.store,
            comment: s.comment ?? '',
            ...(s.maintenance !== undefined ? { maintenance: s.maintenance } : {}),
          })),
        );
      }),
    );
}
