/**
 * A real task in a process the test controls (test/fixtures/task-process.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { collect, ROOT } from './cli.js';

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
