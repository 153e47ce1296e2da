import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { FerryError } from '../errors/index.js';
import { writeFileAtomic } from '../io/index.js';
import { type AuthId, checkSafeId, invalid, parseAuthId } from '../model/index.js';
import { hostForUrl, isLoopbackHost, parseHost, parsePort } from './host-address.js';
import { formatSectionConfig, readSectionConfigFile, type Section } from './section-config.js';
import { SECRET_FILE_MODE } from './token-config.js';

/**
 * `$FERRY_HOME/remote.cfg` (mode 0600), PBS's layout:
 *
 *   remote: offsite
 *   	host backup.example.org
 *   	port 8007
 *   	auth-id sync@pbs!job
 *   	password <the secret, base64-encoded as PBS stores it>
 *   	fingerprint aa:bb:…
 *   	comment …
 *
 * Ferry adds `scheme http` for loopback benchmark remotes (refused for any other host).
 */
export const DEFAULT_REMOTE_PORT = 8007;
const FINGERPRINT_RE = /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/;
const ONE_LINE = '^[^\\n\\r]*$';

const RemoteSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 255 }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    'auth-id': Type.String({ minLength: 1, maxLength: 200 }),
    password: Type.String({ minLength: 1, maxLength: 4096, pattern: '^[A-Za-z0-9+/]+=*$' }),
    fingerprint: Type.Optional(Type.String({ pattern: FINGERPRINT_RE.source })),
    comment: Type.Optional(Type.String({ maxLength: 1024, pattern: ONE_LINE })),
    scheme: Type.Optional(Type.Union([Type.Literal('https'), Type.Literal('http')])),
  },
  { additionalProperties: false },
);
type RemoteSettings = Static<typeof RemoteSchema>;

export interface RemoteEntry {
  name: string;
  host: string;
  port: number | undefined;
  authId: AuthId;
  /** The token secret (or password), decoded. Never print or log it. */
  secret: string;
  fingerprint: string | undefined;
  comment: string | undefined;
  scheme: 'https' | 'http';
}

const SCHEMAS = { remote: RemoteSchema };

/** A remote as lists show it (`ferry remote list`, the API): everything but the secret, with PBS's key names. */
export function publicRemote(e: RemoteEntry): PublicRemote {
  return {
    name: e.name,
    host: e.host,
    port: e.port ?? null,
    'auth-id': e.authId,
    fingerprint: e.fingerprint ?? null,
    scheme: e.scheme,
    comment: e.comment ?? null,
  };
}

export type PublicRemote = {
  name: string;
  host: string;
  port: number | null;
  'auth-id': string;
  fingerprint: string | null;
  scheme: 'https' | 'http';
  comment: string | null;
};

export function remoteConfigPath(home: string): string {
  return join(home, 'remote.cfg');
}

/** A remote's name: PBS's SAFE_ID, 3 to 32 characters. */
export function parseRemoteName(value: unknown): string {
  const name = checkSafeId('remote name', value, 32);
  if (name.length < 3) invalid('remote name', value, 'shorter than 3 characters');
  return name;
}

/** Checks and lowercases a certificate fingerprint (SHA-256 of the certificate, colon hex, as PBS stores it). */
export function parseFingerprint(value: unknown): string {
  const fp = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (typeof fp !== 'string' || !FINGERPRINT_RE.test(fp)) {
    invalid(
      'certificate fingerprint',
      value,
      'expected 32 colon-separated hex bytes (ferry cert info prints it)',
    );
  }
  return fp;
}

/** Checks a remote entry's values together: names, host, and plain HTTP only to loopback. */
export function checkRemoteEntry(entry: RemoteEntry): RemoteEntry {
  parseRemoteName(entry.name);
  parseHost(entry.host);
  if (entry.fingerprint !== undefined) parseFingerprint(entry.fingerprint);
  if (entry.scheme === 'http' && !isLoopbackHost(entry.host)) {
    throw new FerryError(
      'FERRY_ERR_INVALID_VALUE',
      `remote ${entry.name}: plain HTTP is only allowed to a loopback host, not ${entry.host}`,
      {
        fields: { what: 'scheme' },
      },
    );
  }
  if (entry.secret === '' || /[\r\n]/.test(entry.secret))
    invalid('secret', '(hidden)', 'must be one non-empty line');
  return entry;
}

/** A remote's settings as a command or a request gives them; `''` unsets an optional one (port, fingerprint, comment). */
export interface RemoteSettingsInput {
  host?: string;
  port?: string | number;
  authId?: string;
  secret?: string;
  fingerprint?: string;
  comment?: string;
  scheme?: string;
}

/** Applies the given settings over `base`, each checked, then the entry as a whole. */
export function withRemoteSettings(base: RemoteEntry, s: RemoteSettingsInput): RemoteEntry {
  return checkRemoteEntry({
    ...base,
    ...(s.host !== undefined ? { host: parseHost(s.host) } : {}),
    ...(s.port !== undefined ? { port: s.port === '' ? undefined : parsePort(s.port) } : {}),
    ...(s.authId !== undefined ? { authId: parseAuthId(s.authId) } : {}),
    ...(s.secret !== undefined ? { secret: s.secret } : {}),
    ...(s.fingerprint !== undefined
      ? { fingerprint: s.fingerprint === '' ? undefined : parseFingerprint(s.fingerprint) }
      : {}),
    ...(s.comment !== undefined ? { comment: s.comment === '' ? undefined : s.comment } : {}),
    ...(s.scheme !== undefined ? { scheme: parseScheme(s.scheme) } : {}),
  });
}

/** A new remote from its name and settings (host, auth id and secret are required). */
export function newRemote(name: unknown, s: RemoteSettingsInput): RemoteEntry {
  return withRemoteSettings(
    {
      name: parseRemoteName(name),
      host: '',
      port: undefined,
      authId: parseAuthId(s.authId),
      secret: '',
      fingerprint: undefined,
      comment: undefined,
      scheme: 'https',
    },
    s,
  );
}

function parseScheme(value: string): 'https' | 'http' {
  if (value !== 'https' && value !== 'http') invalid('scheme', value, 'expected https or http');
  return value;
}

export async function readRemoteConfig(home: string): Promise<RemoteEntry[]> {
  const file = remoteConfigPath(home);
  const sections = await readSectionConfigFile(file, SCHEMAS);
  return sections.map((s) => {
    const v = s.values as RemoteSettings;
    try {
      return checkRemoteEntry({
        name: s.id,
        host: v.host,
        port: v.port,
        authId: parseAuthId(v['auth-id']),
        secret: Buffer.from(v.password, 'base64').toString('utf8'),
        fingerprint: v.fingerprint,
        comment: v.comment,
        scheme: v.scheme ?? 'https',
      });
    } catch (err) {
      throw new FerryError('FERRY_ERR_CONFIG', `${file}: remote ${s.id}: ${(err as Error).message}`, {
        fields: { file },
      });
    }
  });
}

export async function writeRemoteConfig(home: string, entries: readonly RemoteEntry[]): Promise<void> {
  const sections: Section[] = entries.map((e) => {
    checkRemoteEntry(e);
    const values: RemoteSettings = {
      host: e.host,
      ...(e.port !== undefined ? { port: e.port } : {}),
      'auth-id': e.authId,
      password: Buffer.from(e.secret, 'utf8').toString('base64'),
      ...(e.fingerprint !== undefined ? { fingerprint: e.fingerprint } : {}),
      ...(e.comment !== undefined ? { comment: e.comment } : {}),
      ...(e.scheme === 'http' ? { scheme: 'http' as const } : {}),
    };
    return { type: 'remote', id: e.name, values };
  });
  await writeFileAtomic(remoteConfigPath(home), Buffer.from(formatSectionConfig(sections)), {
    mode: SECRET_FILE_MODE,
  });
}

export async function lookupRemote(home: string, name: string): Promise<RemoteEntry> {
  const remoteName = parseRemoteName(name);
  const entry = (await readRemoteConfig(home)).find((e) => e.name === remoteName);
  if (entry === undefined) {
    throw new FerryError('FERRY_ERR_NOT_FOUND', `remote ${remoteName} is not configured`, {
      fields: { remote: remoteName },
    });
  }
  return entry;
}

/** The URL of a remote's API. */
export function remoteUrl(entry: RemoteEntry): string {
  return `${entry.scheme}://${hostForUrl(entry.host)}:${entry.port ?? DEFAULT_REMOTE_PORT}`;
}
