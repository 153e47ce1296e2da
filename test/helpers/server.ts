/**
 * A real `ferry serve` in this process on 127.0.0.1:0 over temp datastores, with API tokens and ACLs written
 * through the config layer; everything it starts is closed with t.after.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  type AclEntry,
  generateTokenSecret,
  hashTokenSecret,
  parseAclPath,
  parseRole,
  parseTokenId,
  readAclConfig,
  readTokenConfig,
  writeAclConfig,
  writeDatastoreConfig,
  writeTokenConfig,
} from '../../src/config/index.js';
import type { Logger } from '../../src/log/index.js';
import { parseStoreName } from '../../src/model/index.js';
import { FerryClient, type FerryClientOptions } from '../../src/remote/index.js';
import { type FerryServer, type ServerLimits, startServer } from '../../src/server/index.js';
import { Datastore } from '../../src/store/index.js';
import { log } from './world.js';

/** A cheap scrypt cost for tests (the server reads the cost from the stored hash). */
export const TEST_SCRYPT_COST = { log2N: 10, r: 8, p: 1 };

export interface Credentials {
  authId: string;
  secret: string;
}

export interface ServerWorld {
  dir: string;
  home: string;
  server: FerryServer;
  /** The test's own handle on a datastore (the server has its own). */
  store(name: string): Datastore;
  /** Creates an API token with grants `[path, role]` (path like `/datastore/store1/a`). */
  token(authId: string, grants?: [string, string][]): Promise<Credentials>;
  client(credentials: Credentials, options?: Partial<FerryClientOptions>): FerryClient;
}

export async function addToken(
  home: string,
  authId: string,
  grants: [string, string][] = [],
): Promise<Credentials> {
  const id = parseTokenId(authId);
  const secret = generateTokenSecret();
  const tokens = await readTokenConfig(home);
  tokens.push({ authId: id, hash: await hashTokenSecret(secret, TEST_SCRYPT_COST), created: 0 });
  await writeTokenConfig(home, tokens);
  if (grants.length > 0) {
    const acl: AclEntry[] = await readAclConfig(home);
    for (const [path, role] of grants)
      acl.push({ path: parseAclPath(path), authId: id, role: parseRole(role), propagate: true });
    await writeAclConfig(home, acl);
  }
  return { authId, secret };
}

export async function startServerWorld(
  t: TestContext,
  options: { stores?: string[]; insecureHttp?: boolean; limits?: Partial<ServerLimits>; log?: Logger } = {},
): Promise<ServerWorld> {
  // One hook that undoes everything in reverse order (t.after hooks run first-registered first): clients, then the
  // server, then the test's datastore handles, then the directory.
  const undo: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const fn of undo.reverse()) await fn();
  });
  const dir = await mkdtemp(join(tmpdir(), 'ferry-server-test-'));
  undo.push(() => rm(dir, { recursive: true, force: true }));
  const home = join(dir, 'home');
  const stores = new Map<string, Datastore>();
  const entries = [];
  for (const name of options.stores ?? ['store1']) {
    const path = join(dir, name);
    const ds = await Datastore.create(path);
    undo.push(() => ds.close());
    stores.set(name, ds);
    entries.push({ name: parseStoreName(name), path });
  }
  await mkdir(home, { recursive: true });
  await writeDatastoreConfig(home, entries);
  const server = await startServer({
    home,
    listen: { host: '127.0.0.1', port: 0 },
    insecureHttp: options.insecureHttp === true,
    log: options.log ?? log,
    ...(options.limits ? { limits: options.limits } : {}),
  });
  undo.push(() => server.close());
  return {
    dir,
    home,
    server,
    store: (name) => {
      const ds = stores.get(name);
      if (ds === undefined) throw new Error(`no store ${name} in this world`);
      return ds;
    },
    token: (authId, grants) => addToken(home, authId, grants),
    client: (credentials, clientOptions = {}) => {
      const client = new FerryClient({
        url: server.url,
        ...credentials,
        ...(server.fingerprint !== null ? { fingerprint: server.fingerprint } : {}),
        log,
        retryBaseMs: 10,
        ...clientOptions,
      });
      undo.push(() => client.close());
      return client;
    },
  };
}
