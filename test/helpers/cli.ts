/**
 * Runs the real CLI (`bin/ferry`) in a subprocess against a temp FERRY_HOME.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
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
