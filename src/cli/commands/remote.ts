import type { Command } from 'commander';
import {
  checkRemoteEntry,
  lookupRemote,
  parseFingerprint,
  parseHost,
  parsePort,
  parseRemoteName,
  publicRemote,
  type RemoteEntry,
  readRemoteConfig,
  remoteUrl,
  writeRemoteConfig,
} from '../../config/index.js';
import { FerryError } from '../../errors/index.js';
import { ensureDir } from '../../io/index.js';
import { parseAuthId } from '../../model/index.js';
import { FerryClient, remoteConnection } from '../../remote/index.js';
import type { ActionFactory } from '../action.js';

interface RemoteOptions {
  host?: string;
  port?: string;
  authId?: string;
  secret?: string;
  fingerprint?: string;
  comment?: string;
  scheme?: string;
}

function parseScheme(value: string): 'https' | 'http' {
  if (value !== 'https' && value !== 'http') {
    throw new FerryError('FERRY_ERR_USAGE', `--scheme must be https or http, not ${JSON.stringify(value)}`);
  }
  return value;
}

/** Applies the given options over `base` (update) or builds a new entry (add). */
function withOptions(base: RemoteEntry, opts: RemoteOptions): RemoteEntry {
  return checkRemoteEntry({
    ...base,
    ...(opts.host !== undefined ? { host: parseHost(opts.host) } : {}),
    ...(opts.port !== undefined ? { port: parsePort(opts.port) } : {}),
    ...(opts.authId !== undefined ? { authId: parseAuthId(opts.authId) } : {}),
    ...(opts.secret !== undefined ? { secret: opts.secret } : {}),
    ...(opts.fingerprint !== undefined
      ? { fingerprint: opts.fingerprint === '' ? undefined : parseFingerprint(opts.fingerprint) }
      : {}),
    ...(opts.comment !== undefined ? { comment: opts.comment === '' ? undefined : opts.comment } : {}),
    ...(opts.scheme !== undefined ? { scheme: parseScheme(opts.scheme) } : {}),
  });
}

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
    act<RemoteOptions>(async (rt, [name], opts) => {
      const remoteName = parseRemoteName(name);
      const entries = await readRemoteConfig(rt.home);
      if (entries.some((e) => e.name === remoteName)) {
        throw new FerryError('FERRY_ERR_ALREADY_EXISTS', `remote ${remoteName} exists already`);
      }
      const entry = withOptions(
        {
          name: remoteName,
          host: '',
          port: undefined,
          authId: parseAuthId(opts.authId),
          secret: '',
          fingerprint: undefined,
          comment: undefined,
          scheme: 'https',
        },
        opts,
      );
      await ensureDir(rt.home);
      await writeRemoteConfig(rt.home, [...entries, entry]);
      rt.print(publicRemote(entry), () => `added remote ${remoteName} (${remoteUrl(entry)})`);
    }),
  );

  remoteOptions(cmd.command('update <name>').description('change some of a remote’s settings'), false).action(
    act<RemoteOptions>(async (rt, [name], opts) => {
      const current = await lookupRemote(rt.home, name as string);
      const updated = withOptions(current, opts);
      const entries = (await readRemoteConfig(rt.home)).map((e) => (e.name === current.name ? updated : e));
      await writeRemoteConfig(rt.home, entries);
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
    .description('remove a remote')
    .action(
      act(async (rt, [name]) => {
        const entry = await lookupRemote(rt.home, name as string);
        await writeRemoteConfig(
          rt.home,
          (await readRemoteConfig(rt.home)).filter((e) => e.name !== entry.name),
        );
        rt.print({ name: entry.name, removed: true }, () => `removed remote ${entry.name}`);
      }),
    );

  cmd
    .command('scan <name>')
    .description('connect to a remote and list the datastores its token can see')
    .action(
      act(async (rt, [name]) => {
        const entry = await lookupRemote(rt.home, name as string);
        const client = new FerryClient({
          ...remoteConnection(entry),
          log: rt.log,
          connections: 1,
        });
        rt.onClose(() => client.close());
        const stores = await client.listDatastores();
        rt.printList(
          stores.map((s) => ({ store: s.store, comment: s.comment ?? '' })),
          ['store', 'comment'],
        );
      }),
    );
}
