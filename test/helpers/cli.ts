/**
 * Runs the real CLI (`bin/ferry`) in a subprocess against a temp FERRY_HOME.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FERRY_BIN = join(ROOT, 'bin', 'ferry');

export interface FerryRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function spawnFerry(home: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(FERRY_BIN, args, {
    env: { ...process.env, FERRY_HOME: home, FERRY_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function finished(child: ChildProcess): Promise<FerryRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

export async function ferry(home: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<FerryRun> {
  return finished(spawnFerry(home, args, env));
}

/** Runs with `--output-format json`, expects exit 0, and parses the last stdout line. */
export async function ferryJson<T = unknown>(home: string, args: string[]): Promise<T> {
  const run = await ferry(home, [...args, '--output-format', 'json']);
  if (run.code !== 0) throw new Error(`ferry ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  const last = run.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as T;
}

/** A `ferry serve` subprocess, ready: its URL and certificate fingerprint, and its end. */
export interface ServedFerry {
  child: ChildProcess;
  url: string;
  fingerprint: string;
  done: Promise<FerryRun>;
}

/**
 * Starts `ferry serve --listen 127.0.0.1:0` over `home` (HTTPS, with `args`) and waits for its JSON line; killed when
 * the test ends, if it still runs.
 */
export async function serveFerry(t: TestContext, home: string, args: string[] = []): Promise<ServedFerry> {
  const child = spawnFerry(home, ['serve', '--listen', '127.0.0.1:0', ...args]);
  const done = finished(child);
  t.after(() => {
    child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await once(lines, 'line')) as [string];
  const ready = JSON.parse(line) as { url: string; fingerprint: string };
  return { child, url: ready.url, fingerprint: ready.fingerprint, done };
}

/** Adds the served server to `home`'s remotes as `name`, reached with the token `authId`. */
export async function addRemote(
  home: string,
  name: string,
  server: Pick<ServedFerry, 'url' | 'fingerprint'>,
  token: { authId: string; secret: string },
): Promise<void> {
  const url = new URL(server.url);
  await ferryJson(home, [
    'remote',
    'add',
    name,
    '--host',
    url.hostname,
    '--port',
    url.port,
    '--auth-id',
    token.authId,
    '--secret',
    token.secret,
    '--fingerprint',
    server.fingerprint,
  ]);
}
