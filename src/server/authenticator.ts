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
 *
 * Requests that arrive with the same header while its check runs wait for that check instead of starting their
 * own: a sync job opens all its connections at once, and each one's first request would otherwise pay for scrypt
 * (~80 ms of CPU here), two at a time, before any data moves.
 */
export class Authenticator {
  private readonly tokens: WatchedFile<Map<AuthId, TokenEntry>>;
  private cache = new Map<string, AuthId>();
  private cacheVersion = '';
  /** Checks under way, by token-file version and header hash; every request with that header shares the answer. */
  private readonly checking = new Map<string, Promise<AuthId>>();
  /** How many secrets were checked with scrypt (cache misses that were not shared); for tests and diagnostics. */
  verifications = 0;
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
    const flight = `${version}\0${key}`;
    let check = this.checking.get(flight);
    if (check === undefined) {
      check = this.check(header, tokens, version, key).finally(() => this.checking.delete(flight));
      this.checking.set(flight, check);
    }
    return check;
  }

  private async check(
    header: string,
    tokens: Map<AuthId, TokenEntry>,
    version: string,
    key: string,
  ): Promise<AuthId> {
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
    this.verifications++;
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
