/**
 * A real `ferry serve` subprocess over a temp FERRY_HOME on 127.0.0.1:0, and the operator's other machine: a home
 * with that server as a remote, its token and ACL made through the CLI as an operator would.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { type FerryRun, ferryJson, finished, spawnFerry } from './cli.js';

export interface Served {
  child: ChildProcess;
  /** Resolves when the server has exited. */
  done: Promise<FerryRun>;
  url: string;
  fingerprint: string;
}

/** Starts `ferry serve --listen 127.0.0.1:0 --no-scheduler` over `home` and waits for its ready line; killed at the end. */
export async function serveHome(t: TestContext, home: string): Promise<Served> {
  const child = spawnFerry(home, ['serve', '--listen', '127.0.0.1:0', '--no-scheduler']);
  const done = finished(child);
  t.after(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await once(lines, 'line')) as [string];
  const ready = JSON.parse(line) as { url: string; fingerprint: string };
  return { child, done, ...ready };
}

/** Creates API token `authId` in `home` with `role` on ACL path `path`; answers its secret. */
export async function tokenWithRole(
  home: string,
  authId: string,
  path: string,
  role: string,
): Promise<string> {
  const { secret } = await ferryJson<{ secret: string }>(home, ['token', 'create', authId]);
  await ferryJson(home, ['acl', 'set', path, authId, role]);
  return secret;
}

/** Adds the served home to `home` as remote `name`, reached with token `authId`, its certificate pinned. */
export async function addServedRemote(
  home: string,
  name: string,
  served: Pick<Served, 'url' | 'fingerprint'>,
  authId: string,
  secret: string,
): Promise<void> {
  await ferryJson(home, [
    'remote',
    'add',
    name,
    '--host',
    '127.0.0.1',
    '--port',
    new URL(served.url).port,
    '--auth-id',
    authId,
    '--secret',
    secret,
    '--fingerprint',
    served.fingerprint,
  ]);
}
