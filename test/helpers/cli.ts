/**
 * Runs the real CLI (`bin/ferry`) in a subprocess against a temp FERRY_HOME.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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
  const out = collect(child);
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolvePromise({ code, signal, stdout: out.stdout(), stderr: out.stderr() }),
    );
  });
}

export interface Collected {
  /** Everything the child wrote to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Polls `probe` on stdout until it answers a value (at most 30 s; the child's stderr in the failure). */
  until<T>(what: string, probe: (stdout: string) => T | undefined): Promise<T>;
}

/** Collects a child's stdout and stderr as they come. */
export function collect(child: ChildProcess): Collected {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    async until(what, probe) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const value = probe(stdout);
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr: ${stderr}`);
        await sleep(50);
      }
    },
  };
}

/** A CLI run a test watches as it goes: its output so far, and its exit code once it has exited. */
export interface Watched {
  child: ChildProcess;
  out: Collected;
  done: Promise<number | null>;
}

/** Starts `ferry args` over `home` and watches it; killed when the test ends, if it still runs. */
export function watchFerry(t: TestContext, home: string, args: string[]): Watched {
  const child = spawnFerry(home, args);
  t.after(() => {
    child.kill('SIGKILL');
  });
  const out = collect(child);
  const done = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, out, done };
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
