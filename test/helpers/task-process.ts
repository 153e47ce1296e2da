/**
 * A real task in a process the test controls (test/fixtures/task-process.ts), and a reader of a child's stdout that
 * a test can wait on.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './cli.js';

export interface TaskProcess {
  child: ChildProcess;
  /** The task's id, as its record names it. */
  id: string;
  /** Sends one command: `log TEXT`, `burst N` or `end N`. */
  send(command: string): void;
  /** Resolves with the process's exit code once it has exited. */
  exited: Promise<number | null>;
}

/** Starts a task in `home` (`<home>/tasks/`) run by a process of its own; killed when the test ends. */
export async function startTaskProcess(t: TestContext, home: string): Promise<TaskProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/fixtures/task-process.ts'), home],
    {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  t.after(() => {
    child.kill('SIGKILL');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const out = collect(child);
  const started = await out.until('the task to start', (s) => /^started (\S+)\n/.exec(s)?.[1]);
  return {
    child,
    id: started,
    send: (command) => child.stdin?.write(`${command}\n`),
    exited,
  };
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
