import { createHash } from 'node:crypto';
import { readTokenConfig, type TokenEntry, tokenConfigPath, verifyTokenSecret } from '../config/index.js';
import { FerryError } from '../errors/index.js';
import { type AuthId, parseAuthId } from '../model/index.js';
import { AUTH_SCHEME } from '../protocol/index.js';
import { WatchedFile } from './watched-file.js';

const MAX_CACHED = 10_000;
/** scrypt runs on libuv's thread pool; this many at once keeps a flood of wrong secrets from starving file I/O. */
const MAX_CONCURRENT_VERIFIES = 2;

/**
 * Checks `Authorization: PBSAPIToken <auth-id>:<secret>` against `token.shadow`.
 *
 * scrypt on every request would cap the server at a few dozen requests a second, so a successful check is cached,
 * keyed by the SHA-256 of the whole header (the secret itself is never kept). The cache belongs to one version of
 * the token file: when `ferry token remove` (another process) replaces the file, the next request sees a new
 * version, the cache is dropped, and a revoked token gets 401.
 */
export class Authenticator {
  private readonly tokens: WatchedFile<Map<AuthId, TokenEntry>>;
  private cache = new Map<string, AuthId>();
  private cacheVersion = '';
  private verifying = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(home: string) {
    this.tokens = new WatchedFile(
      tokenConfigPath(home),
      async () => new Map((await readTokenConfig(home)).map((t) => [t.authId, t])),
    );
  }

  /** The auth id the header proves, or FERRY_ERR_UNAUTHORIZED. Never echoes the secret. */
  async authenticate(header: string | undefined): Promise<AuthId> {
    if (header === undefined || header.length > 1024 || !header.startsWith(`${AUTH_SCHEME} `)) {
      throw unauthorized(
        `missing or malformed Authorization header (expected ${AUTH_SCHEME} <auth-id>:<secret>)`,
      );
    }
    const { version, value: tokens } = await this.tokens.get();
    if (version !== this.cacheVersion) {
      this.cache = new Map();
      this.cacheVersion = version;
    }
    const key = createHash('sha256').update(header).digest('hex');
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;

    const credentials = header.slice(AUTH_SCHEME.length + 1);
    const colon = credentials.indexOf(':');
    if (colon < 0) throw unauthorized('malformed API token credentials (expected <auth-id>:<secret>)');
    let authId: AuthId;
    let secret: string;
    try {
      authId = parseAuthId(credentials.slice(0, colon));
      secret = decodeURIComponent(credentials.slice(colon + 1));
    } catch {
      throw unauthorized('malformed API token credentials');
    }
    const entry = tokens.get(authId);
    if (entry === undefined || !(await this.verify(secret, entry.hash))) {
      throw unauthorized(`unknown API token or wrong secret for ${authId}`);
    }
    if (this.cacheVersion === version) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(key, authId);
    }
    return authId;
  }

  private async verify(secret: string, hash: string): Promise<boolean> {
    // A finishing check hands its slot straight to the next waiter, so the bound holds exactly.
    if (this.verifying >= MAX_CONCURRENT_VERIFIES)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.verifying++;
    try {
      return await verifyTokenSecret(secret, hash);
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.verifying--;
    }
  }
}

function unauthorized(detail: string): FerryError {
  return new FerryError('FERRY_ERR_UNAUTHORIZED', detail);
}
