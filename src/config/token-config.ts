import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { FerryError } from '../errors/index.js';
import { writeFileAtomic } from '../io/index.js';
import { type AuthId, isTokenId, parseAuthId } from '../model/index.js';

/**
 * `$FERRY_HOME/token.shadow` (mode 0600): API tokens and the scrypt hashes of their secrets, as JSON (PBS keeps its
 * token secrets in a JSON `token.shadow` as well). The secrets themselves are never stored.
 */
const TokenFileSchema = Type.Object(
  {
    tokens: Type.Array(
      Type.Object(
        {
          'auth-id': Type.String({ maxLength: 200 }),
          hash: Type.String({ maxLength: 400 }),
          created: Type.Integer({ minimum: 0 }),
          comment: Type.Optional(Type.String({ maxLength: 1024 })),
        },
        { additionalProperties: false },
      ),
      { maxItems: 100_000 },
    ),
  },
  { additionalProperties: false },
);
type TokenFile = Static<typeof TokenFileSchema>;

export interface TokenEntry {
  authId: AuthId;
  hash: string;
  /** Epoch seconds. */
  created: number;
  comment?: string;
}

export const SECRET_FILE_MODE = 0o600;

export function tokenConfigPath(home: string): string {
  return join(home, 'token.shadow');
}

/** An API token id: `user@realm!name` (a plain user id is refused). */
export function parseTokenId(value: unknown): AuthId {
  const id = parseAuthId(value);
  if (!isTokenId(id)) {
    throw new FerryError(
      'FERRY_ERR_INVALID_VALUE',
      `invalid token id ${JSON.stringify(id)}: expected user@realm!name`,
      {
        fields: { what: 'token id' },
      },
    );
  }
  return id;
}

export function parseTokenConfig(text: string, file: string): TokenEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new FerryError('FERRY_ERR_CONFIG', `${file}: not JSON: ${(err as Error).message}`, {
      fields: { file },
    });
  }
  if (!Value.Check(TokenFileSchema, doc)) {
    const first = Value.Errors(TokenFileSchema, doc).First();
    throw new FerryError(
      'FERRY_ERR_CONFIG',
      `${file}: ${first?.path ?? ''}: ${first?.message ?? 'invalid'}`,
      {
        fields: { file },
      },
    );
  }
  return (doc as TokenFile).tokens.map((t) => {
    let authId: AuthId;
    try {
      authId = parseTokenId(t['auth-id']);
    } catch (err) {
      throw new FerryError('FERRY_ERR_CONFIG', `${file}: ${(err as Error).message}`, { fields: { file } });
    }
    return {
      authId,
      hash: t.hash,
      created: t.created,
      ...(t.comment !== undefined ? { comment: t.comment } : {}),
    };
  });
}

/** Reads the token file; a missing file has no tokens. */
export async function readTokenConfig(home: string): Promise<TokenEntry[]> {
  const file = tokenConfigPath(home);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return parseTokenConfig(text, file);
}

export async function writeTokenConfig(home: string, entries: readonly TokenEntry[]): Promise<void> {
  const doc: TokenFile = {
    tokens: entries.map((e) => ({
      'auth-id': e.authId,
      hash: e.hash,
      created: e.created,
      ...(e.comment !== undefined ? { comment: e.comment } : {}),
    })),
  };
  await writeFileAtomic(tokenConfigPath(home), Buffer.from(`${JSON.stringify(doc, null, 2)}\n`), {
    mode: SECRET_FILE_MODE,
  });
}
